using System.Text.RegularExpressions;
using NASiam.Core.Options;

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
        // ASP.NET Core names the parameter's type in C# keywords or CLR names; the words for it are the JSON errors' own.
        Type? clr = type switch
        {
            "int" or "Int32" => typeof(int),
            "long" or "Int64" => typeof(long),
            "double" or "Double" => typeof(double),
            "float" or "Single" => typeof(float),
            "bool" or "Boolean" => typeof(bool),
            "Guid" => typeof(Guid),
            _ => null,
        };
        var value = m.Groups["value"].Value;
        // A type's range only helps a whole number that overflows it; "abc" is simply not a number.
        if ((clr == typeof(int) || clr == typeof(long)) && !System.Numerics.BigInteger.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out _))
            return (name, $"'{value}' is not a whole number");
        return (name, $"'{value}' is not {(clr is null ? "a value of another form" : JsonValueErrors.Expected(clr))}");
    }
}
