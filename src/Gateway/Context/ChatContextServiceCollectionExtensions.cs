using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Responses;

namespace InferenceMesh.Gateway.Context;

/// <summary>The context store's gateway side: conversation and preset stores, their chat stages and endpoints.</summary>
internal static class ChatContextServiceCollectionExtensions
{
    /// <summary>Stores (module migrations run when the host starts) and the stages, in order: presets, then conversations.</summary>
    public static IServiceCollection AddChatContext(this IServiceCollection services, ConversationStoreOptions conversations, ResponseStoreOptions? responses = null)
    {
        services.AddConversationStore(conversations);
        services.AddPresetStore();
        services.AddResponseStore(responses); // /v1/responses with store (Responses/)
        services.AddSingleton<IChatContextStage, PresetStage>();
        services.AddSingleton<IChatContextStage, ConversationStage>();
        return services;
    }

    public static IEndpointRouteBuilder MapChatContextApis(this IEndpointRouteBuilder app)
    {
        app.MapConversationsApi();
        app.MapPresetsApi();
        return app;
    }
}
