using InferenceMesh.Gateway.Hosting;

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

var app = GatewayApp.Build(options);
await app.StartAsync();
GatewayApp.LogListening(app, options);
await app.WaitForShutdownAsync();
return 0;
