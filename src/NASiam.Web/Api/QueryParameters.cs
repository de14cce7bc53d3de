using System.Reflection;
using Microsoft.AspNetCore.Mvc;

namespace NASiam.Web.Api;

/// <summary>
/// Rejects query parameters an API endpoint does not take (<c>GET /api/runs?status=failed</c>, or a
/// misspelt <c>afterSeq=40</c>), with a 400 validation problem naming each one and the parameters the
/// endpoint does take. Why: ignored, they read as applied, and a poller or a script would go on with
/// every run or every event without a word (the JSON bodies already reject unknown members).
/// The endpoint's query parameters are its handler's parameters that minimal APIs bind from the query
/// (a string or a parsable type, not a route value); the access key's <c>access_token</c> and
/// <c>access_key</c> (<see cref="Security.AccessKeyAuthentication"/>) are always allowed.
/// </summary>
public static class QueryParameters
{
    static readonly string[] Always = ["access_token", "access_key"];

    /// <summary>Adds the check to every endpoint of <paramref name="group"/>.</summary>
    public static RouteGroupBuilder RejectUnknownQueryParameters(this RouteGroupBuilder group)
    {
        group.AddEndpointFilterFactory((factory, next) =>
        {
            var candidates = factory.MethodInfo.GetParameters().Where(FromQueryOrRoute).Select(p => p.Name!).ToArray();
            return context =>
            {
                var http = context.HttpContext;
                if (http.Request.Query.Count == 0) return next(context);
                var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.Parameters.Select(p => p.Name) ?? [];
                var taken = candidates.Except(route, StringComparer.OrdinalIgnoreCase).ToArray();
                var unknown = http.Request.Query.Keys
                    .Where(k => !taken.Contains(k, StringComparer.OrdinalIgnoreCase) && !Always.Contains(k, StringComparer.OrdinalIgnoreCase))
                    .ToArray();
                if (unknown.Length == 0) return next(context);
                var known = taken.Length == 0 ? "this endpoint takes no query parameters" : $"this endpoint takes {string.Join(", ", taken)}";
                return ValueTask.FromResult<object?>(Results.ValidationProblem(
                    unknown.ToDictionary(k => k, _ => new[] { $"unknown query parameter; {known}" }),
                    title: "The request has query parameters this endpoint does not take."));
            };
        });
        return group;
    }

    // Minimal APIs bind a parameter from the route or the query when it is a string or a parsable type and
    // carries no other source's attribute; services, the request and the cancellation token are neither.
    static bool FromQueryOrRoute(ParameterInfo p)
    {
        if (p.GetCustomAttributes().Any(a => a is FromBodyAttribute or FromServicesAttribute or FromHeaderAttribute or FromFormAttribute))
            return false;
        var t = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
        return t == typeof(string) || t.IsEnum ||
               t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IParsable<>));
    }
}
