namespace NASiam.Web.Api;

/// <summary>
/// Names with a slash in a URL's last part (<c>checkpoints/search.ckpt</c>, <c>simsiam/cifar10_resnet18</c>),
/// taken by a catch-all route parameter. A client that escapes the name as one path segment sends the
/// slash as <c>%2F</c>, which Kestrel leaves escaped (decoding it would change the path's structure), so
/// the raw and the escaped forms would name different things. Both name the same one here; the
/// handler's own checks (a checkpoint stays inside its run's folder) run on the decoded name.
/// </summary>
public static class CatchAll
{
    /// <summary>The route value with each escaped slash (<c>%2F</c>, <c>%2f</c>) as a slash.</summary>
    public static string Decode(string value) => value.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
}
