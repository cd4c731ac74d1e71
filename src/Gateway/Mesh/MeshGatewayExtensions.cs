using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Backends.Peer;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Router.Routing;
using InferenceMesh.Mesh;
using InferenceMesh.Mesh.Capabilities;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>The gateway's mesh wiring: the <c>mesh:</c> block of <c>--config</c>, the capability source, the mesh services.</summary>
internal static class MeshGatewayExtensions
{
    /// <summary>The config section the router must skip (<c>RouterOptions.ForeignConfigSections</c>).</summary>
    public const string ConfigSection = "mesh";

    /// <summary>
    /// Reads <c>mesh:</c> from <see cref="GatewayOptions.ConfigPath"/>; without it the mesh is off (no serf, no
    /// listener, <c>/v1/mesh/peers</c> says <c>enabled: false</c>). Errors stop start-up (file:line:column: reason).
    /// </summary>
    public static IServiceCollection AddMesh(this IServiceCollection services, GatewayOptions options)
    {
        MeshOptions? mesh = null;
        if (options.ConfigPath is { } path && File.Exists(path))
        {
            var (read, errors) = MeshConfigReader.Read(path);
            if (errors.Count > 0)
            {
                throw new GatewayOptionsException(string.Join("; ", errors));
            }

            mesh = read;
        }

        if (mesh is not null)
        {
            services.AddSingleton<ILocalCapabilitySource, CatalogCapabilitySource>();
            // Peers on the request path: the router's live candidates, the peer backend, and serving peers.
            services.AddSingleton<IPeerCandidateSource, MeshPeerCandidates>();
            services.AddSingleton<PeerReceiptChecker>();
            services.AddSingleton<PeerVerifier>();
            services.AddSingleton<IChatBackend, PeerChatBackend>();
            services.AddSingleton<IPeerRequestHandler, PeerChatServer>();
        }

        try
        {
            return services.AddInferenceMesh(mesh);
        }
        catch (Exception ex) when (ex is MeshIdentityException or InferenceMesh.Mesh.Invites.MeshStateException)
        {
            throw new GatewayOptionsException(ex.Message);
        }
    }
}
