using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Hosting;

public static class EngineServiceCollectionExtensions
{
    /// <summary>Registers the in-process llama.cpp engine as <see cref="IModelHost"/>.</summary>
    public static IServiceCollection AddLocalEngine(this IServiceCollection services, EngineOptions? options = null)
    {
        var resolved = options ?? new EngineOptions();
        System.ComponentModel.DataAnnotations.Validator.ValidateObject(resolved, new System.ComponentModel.DataAnnotations.ValidationContext(resolved), validateAllProperties: true);
        services.AddSingleton(resolved);
        services.AddSingleton<LocalModelHost>(sp => new LocalModelHost(resolved, sp.GetRequiredService<ILogger<LocalModelHost>>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IModelHost>(sp => sp.GetRequiredService<LocalModelHost>());
        services.AddHostedService<NativeEngineStartup>();
        return services;
    }
}
