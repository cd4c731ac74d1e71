using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Invites;
using InferenceMesh.Mesh.Listener;
using InferenceMesh.Mesh.Membership;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Mesh.Reputation;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Mesh.Transport;
using InferenceMesh.Mesh.Serf;
using InferenceMesh.Mesh.Trust;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace InferenceMesh.Mesh;

public static class MeshServiceCollectionExtensions
{
    /// <summary>
    /// Registers the mesh when <paramref name="options"/> is given (a <c>mesh:</c> block), else a disabled
    /// <see cref="IPeerDirectory"/>. The host must register an <see cref="ILocalCapabilitySource"/>.
    /// The node key is loaded (or created) now: an unusable key throws <see cref="MeshIdentityException"/>; the state file
    /// (<c>mesh join</c>'s nodes, trusted as invited) is read now too: one that cannot be read throws <see cref="MeshStateException"/>.
    /// </summary>
    public static IServiceCollection AddInferenceMesh(this IServiceCollection services, MeshOptions? options)
    {
        if (options is null)
        {
            services.TryAddSingleton<IPeerDirectory, DisabledPeerDirectory>();
            return services;
        }

        var identity = NodeIdentity.LoadOrCreate(options.ResolvedKeyFile);
        var invited = MeshStateFile.Read(options.StateFile).Select(j => j.Id);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(identity);
        services.AddSingleton(new TrustPolicy(options.Admission, options.Trust, invited));
        services.AddSingleton<MeshCertificates>();
        services.AddSingleton<ModelDigestCache>();
        services.AddSingleton<LocalAdvertBuilder>();
        services.AddSingleton<PeerConnections>();
        services.AddSingleton<AdvertClient>();
        services.AddSingleton<PeerReputation>();
        services.AddSingleton<PeerQuotas>();
        services.AddSingleton<PeerServingStats>();
        services.AddSingleton(new ReceiptStore(options.DataDirectory));
        services.AddSingleton<SerfAgentSupervisor>();
        services.AddSingleton<IPeerDirectory>(sp => new PeerDirectory(sp.GetRequiredService<NodeIdentity>()));
        services.AddSingleton<MeshListener>();
        services.AddSingleton<MeshMembership>();
        // Order matters: the listener binds first, so the membership knows the https endpoint to advertise.
        services.AddHostedService(sp => sp.GetRequiredService<MeshListener>());
        services.AddHostedService(sp => sp.GetRequiredService<MeshMembership>());
        return services;
    }
}
