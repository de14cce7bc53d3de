using NASiam.Web.Extensions;

NASiam.Core.Engine.Numerics.KernelProbe.TryRunAsChild(args); // exits here when re-launched as a kernel-probe child
NASiam.Web.Worker.RunWorker.TryRunAsChild(args); // a run's child process: runs the engine and exits, no web host
var builder = WebApplication.CreateBuilder(args);
builder.AddNasiamWeb();

var app = builder.Build();
app.MapNasiamWeb();
app.Run();

/// <summary>Public so WebApplicationFactory&lt;Program&gt; can host the app in tests.</summary>
public partial class Program;
