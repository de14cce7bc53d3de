using System.Text.RegularExpressions;

namespace NASiam.Web.Api;

/// <summary>
/// A query or route value that does not bind to its endpoint parameter (<c>afterSequence=abc</c>,
/// <c>maxPoints=99999999999</c>): minimal APIs throw <see cref="BadHttpRequestException"/> for it
/// (<c>RouteHandlerOptions.ThrowOnBadRequest</c>). This middleware answers every such failure, in every
/// environment, with a 400 validation problem whose <c>errors</c> name the parameter in the words of the
/// API, not the server's types; before, Development (the README's command) answered with the developer
/// exception page's stack trace and other environments with a problem that named no field.
/// </summary>
public static partial class BindingFailures
{
    /// <summary>Catches binding failures below it and writes them as validation problems (other exceptions pass on).</summary>
    public static IApplicationBuilder UseBindingFailureProblems(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try { await next(context); }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted && Describe(e.Message) is { } failure)
        {
            context.Response.Clear();
            await Results.ValidationProblem(new Dictionary<string, string[]> { [failure.Field] = [failure.Message] }, statusCode: e.StatusCode)
                .ExecuteAsync(context);
        }
    });

    // ASP.NET Core's texts: Failed to bind parameter "Nullable<long> afterSequence" from "abc".
    // and Required parameter "int x" was not provided from query string.
    [GeneratedRegex("""^(?:Failed to bind parameter|Required parameter) "(?<type>.+) (?<name>[^ "]+)"(?: from "(?<value>.*)")?""")]
    private static partial Regex Parameter();

    /// <summary>
    /// The parameter and a message for the binding failure ASP.NET Core describes in <paramref name="message"/>;
    /// null when the text names no parameter (a body too large, say), which the app's other handlers answer.
    /// </summary>
    public static (string Field, string Message)? Describe(string message)
    {
        var m = Parameter().Match(message);
        if (!m.Success) return null;
        var name = m.Groups["name"].Value;
        if (!m.Groups["value"].Success) return (name, "is required");
        var type = m.Groups["type"].Value;
        if (type.StartsWith("Nullable<", StringComparison.Ordinal)) type = type["Nullable<".Length..^1];
        var expected = type switch
        {
            "int" or "Int32" => $"a whole number from {int.MinValue} to {int.MaxValue}",
            "long" or "Int64" => $"a whole number from {long.MinValue} to {long.MaxValue}",
            "double" or "Double" or "float" or "Single" => "a number",
            "bool" or "Boolean" => "true or false",
            "Guid" => "a GUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            _ => "a value of another form",
        };
        return (name, $"'{m.Groups["value"].Value}' is not {expected}");
    }
}
