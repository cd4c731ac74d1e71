using InferenceMesh.ContextStore.Storage;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Router.Configuration;

if (args is ["--version"])
{
    Console.WriteLine(GatewayCommandLine.VersionLine);
    return 0;
}

// Command groups first; anything else runs the gateway.
if (ConfigCheckCli.IsConfigCheck(args))
{
    return ConfigCheckCli.Run(args, Console.Out, Console.Error);
}

if (ModelsCli.Matches(args))
{
    return await ModelsCli.RunAsync(args, Console.Out, Console.Error);
}

if (FilesCli.Matches(args))
{
    return await FilesCli.RunAsync(args, Console.Out, Console.Error);
}

if (MeshCli.Matches(args))
{
    return await MeshCli.RunAsync(args, Console.Out, Console.Error);
}

var parsed = GatewayCommandLine.Parse(args);
if (parsed.HelpRequested)
{
    Console.WriteLine(GatewayCommandLine.Usage);
    return 0;
}

if (parsed.Options is not { } options)
{
    Console.Error.WriteLine($"inference-mesh: {parsed.Error}");
    return 2;
}

WebApplication app;
try
{
    app = GatewayApp.Build(options);
}
catch (RoutingConfigException ex)
{
    // One message: every error as file:line:column: reason.
    Console.Error.WriteLine($"inference-mesh: {ex.Message}");
    return 2;
}
catch (GatewayOptionsException ex)
{
    Console.Error.WriteLine($"inference-mesh: {ex.Message}");
    return 2;
}

// The mesh's listener and serf agent bind their own addresses (mesh: block of --config); null when the mesh is off.
var mesh = app.Services.GetService<InferenceMesh.Mesh.Configuration.MeshOptions>();
if (GatewayApp.AddressInUse(options, mesh) is { } inUse)
{
    Console.Error.WriteLine($"inference-mesh: {inUse}");
    return 2;
}

try
{
    // The stores first: a database that cannot be opened is then this one line, not also the host's start failure
    // with its stack trace.
    app.Services.OpenContextStore();
    app.Services.GetService<InferenceMesh.ModelCache.Store.IModelStore>();
    await app.StartAsync();
}
catch (Exception ex) when (ex is InferenceMesh.ContextStore.Storage.ContextStoreOpenException or InferenceMesh.ModelCache.Store.ModelStoreOpenException)
{
    Console.Error.WriteLine($"inference-mesh: {ex.Message}");
    return 2;
}
catch (Exception ex) when (GatewayApp.IsAddressInUse(ex))
{
    // Taken in between: the listener that failed is the first one still taken (the mesh listener starts before Kestrel).
    Console.Error.WriteLine($"inference-mesh: {GatewayApp.AddressInUse(options, mesh) ?? GatewayApp.AddressInUseMessage(options)}");
    return 2;
}

GatewayApp.LogListening(app, options);
await app.WaitForShutdownAsync();
return 0;
