// The new-run form's one browser-side helper: after a refused submit, bring the first field in error
// into view and focus its input (the Queue run button sits far below most fields).
export function focusFirstError() {
  const field = document.querySelector('[data-field][data-error]');
  if (!field) return false;
  // Instant, not smooth: an animated scroll would move the page under a click made right after.
  field.scrollIntoView({ block: 'center' });
  const input = field.querySelector('input:not([type=hidden]), textarea, [tabindex]:not([tabindex="-1"])');
  if (input) input.focus({ preventScroll: true });
  return true;
}
