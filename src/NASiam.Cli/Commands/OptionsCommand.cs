using System.CommandLine;
using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary>
/// <c>nasiam options [--preset P] [--framework F]</c>: every run option with its flag and default;
/// <c>--markdown</c> prints docs/options.md (generated from <see cref="OptionCatalog"/>).
/// </summary>
public static class OptionsCommand
{
    /// <summary>The options verb.</summary>
    public static Command Create(CliContext context)
    {
        var preset = new Option<string>("--preset") { HelpName = "NAME", Description = $"Show the defaults of this preset: {string.Join(", ", RunPresets.Names)}." };
        var framework = new Option<string>("--framework") { HelpName = string.Join("|", EnumNames.All<Core.Framework>()), Description = "Show the defaults of this framework's recipe (or quick-demo flavour)." };
        var markdown = new Option<bool>("--markdown") { Description = "Print docs/options.md (the generated option reference).", Hidden = true };
        var command = new Command("options", "List every run option: its flag, default (for --preset/--framework) and help.") { preset, framework, markdown };
        command.SetAction(p =>
        {
            if (p.GetValue(markdown))
            {
                context.Stdout.Write(OptionCatalog.Markdown());
                return ExitCodes.Ok;
            }
            var fwText = p.GetValue(framework);
            Core.Framework? fw = fwText is null ? null : Core.FrameworkNames.Parse(fwText);
            RunOptions defaults;
            try { defaults = OptionCatalog.Defaults(p.GetValue(preset), fw); }
            catch (ArgumentException e) { throw new CliException($"--preset: {e.Message}"); } // name the flag the message is about
            foreach (var group in Enum.GetValues<OptionGroup>())
            {
                context.Stdout.WriteLine($"{group}:");
                foreach (var e in OptionCatalog.InGroup(group))
                {
                    var flag = e.Path == "kind" ? "(the verb)" : e.Flag;
                    context.Stdout.WriteLine($"  {flag,-44} {e.ReadText(defaults) ?? "(unset)",-14} {e.Label}{(e.Unit is null ? "" : $" ({e.Unit})")}");
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
