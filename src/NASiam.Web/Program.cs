using NASiam.Web.Extensions;

NASiam.Core.Engine.Numerics.KernelProbe.TryRunAsChild(args); // exits here when re-launched as a kernel-probe child
var builder = WebApplication.CreateBuilder(args);
builder.AddNasiamWeb();

var app = builder.Build();
app.MapNasiamWeb();
app.Run();

/// <summary>Public so WebApplicationFactory&lt;Program&gt; can host the app in tests.</summary>
public partial class Program;
