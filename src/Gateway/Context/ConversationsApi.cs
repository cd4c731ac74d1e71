using InferenceMesh.Classifier;
using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Router.Routing;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// The conversation endpoints, in the shape of OpenAI's Conversations API: create, get, update metadata, delete, and
/// list / add / get / delete items; plus <c>GET /v1/conversations</c> (ours: OpenAI has no list). Items added here are
/// classified (in process) and raise the conversation's privacy level like a routed message would; the
/// <c>X-InferenceMesh-Privacy</c> header may raise it further. Unknown ids are 404, malformed ids and bodies 400, and
/// every endpoint is 400 <c>history_disabled</c> when the gateway runs with <c>--no-history</c>.
/// </summary>
internal static class ConversationsApi
{
    public static IEndpointRouteBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations");
        group.MapPost("", CreateAsync);
        group.MapGet("", List);
        group.MapGet("/{conversationId}", Get);
        group.MapPost("/{conversationId}", UpdateAsync);
        group.MapDelete("/{conversationId}", Delete);
        group.MapGet("/{conversationId}/items", ListItems);
        group.MapPost("/{conversationId}/items", AddItemsAsync);
        group.MapGet("/{conversationId}/items/{itemId}", GetItem);
        group.MapDelete("/{conversationId}/items/{itemId}", DeleteItem);
        return app;
    }

    public static async Task<IResult> CreateAsync(HttpContext http, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options, [FromServices] IPrivacyClassifier classifier)
    {
        if (Disabled(options) is { } disabled) return disabled;
        var body = await ContextApiInputs.ReadBodyAsync(http.Request, ContextJsonContext.Default.CreateConversationRequest, new CreateConversationRequest(), http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        var metadata = ContextApiInputs.Metadata(body.Value!.Metadata);
        if (metadata.Error is { } metadataError) return metadataError;
        var items = ContextApiInputs.Items(body.Value.Items, required: false);
        if (items.Error is { } itemsError) return itemsError;
        var privacy = Assess(http, classifier, items.Value!);
        if (privacy.Error is { } privacyError) return privacyError;

        return Ok(ToWire(store.Create(metadata.Value!, items.Value!, (int)privacy.Value)));
    }

    public static IResult List(HttpContext http, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options)
    {
        if (Disabled(options) is { } disabled) return disabled;
        var page = ContextApiInputs.Page(http.Request.Query, ConversationDefaults.IsConversationId, "'conv_' and 32 lowercase hex digits");
        if (page.Error is { } pageError) return pageError;
        var result = store.List(page.Value!);
        if (result.Status == PageStatus.UnknownCursor) return ListQuery.UnknownCursor();
        return new JsonOk<ListWire<ConversationWire>>(
            ToList(result, ToWire, c => c.Id), ContextJsonContext.Default.ListWireConversationWire);
    }

    public static IResult Get(string conversationId, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options)
    {
        if (Check(options, conversationId) is { } error) return error;
        return store.Get(conversationId) is { } conversation ? Ok(ToWire(conversation)) : NotFound(conversationId);
    }

    public static async Task<IResult> UpdateAsync(HttpContext http, string conversationId, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options)
    {
        if (Check(options, conversationId) is { } error) return error;
        var body = await ContextApiInputs.ReadBodyAsync(http.Request, ContextJsonContext.Default.UpdateConversationRequest, null, http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        if (body.Value!.Metadata is null) return ApiErrors.MissingParameter("metadata");
        var metadata = ContextApiInputs.Metadata(body.Value.Metadata);
        if (metadata.Error is { } metadataError) return metadataError;
        return store.UpdateMetadata(conversationId, metadata.Value!) is { } updated ? Ok(ToWire(updated)) : NotFound(conversationId);
    }

    public static IResult Delete(string conversationId, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options)
    {
        if (Check(options, conversationId) is { } error) return error;
        return store.Delete(conversationId)
            ? new JsonOk<ConversationDeletedWire>(new ConversationDeletedWire(conversationId), ContextJsonContext.Default.ConversationDeletedWire)
            : NotFound(conversationId);
    }

    public static IResult ListItems(HttpContext http, string conversationId, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options)
    {
        if (Check(options, conversationId) is { } error) return error;
        var page = ContextApiInputs.Page(http.Request.Query, ConversationDefaults.IsItemId, "'msg_' and 32 lowercase hex digits");
        if (page.Error is { } pageError) return pageError;
        var result = store.ListItems(conversationId, page.Value!);
        return result.Status switch
        {
            PageStatus.NotFound => NotFound(conversationId),
            PageStatus.UnknownCursor => ListQuery.UnknownCursor(),
            _ => Items(ToList(result, ToWire, i => i.Id)),
        };
    }

    public static async Task<IResult> AddItemsAsync(
        HttpContext http, string conversationId, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options, [FromServices] IPrivacyClassifier classifier)
    {
        if (Check(options, conversationId) is { } error) return error;
        var body = await ContextApiInputs.ReadBodyAsync(http.Request, ContextJsonContext.Default.AddItemsRequest, null, http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        var items = ContextApiInputs.Items(body.Value!.Items, required: true);
        if (items.Error is { } itemsError) return itemsError;
        var privacy = Assess(http, classifier, items.Value!);
        if (privacy.Error is { } privacyError) return privacyError;

        if (store.AddItems(conversationId, items.Value!, (int)privacy.Value) is not { } added) return NotFound(conversationId);
        return Items(new ListWire<ConversationItemWire>([.. added.Select(ToWire)], added[0].Id, added[^1].Id, HasMore: false));
    }

    public static IResult GetItem(string conversationId, string itemId, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options)
    {
        if (Check(options, conversationId, itemId) is { } error) return error;
        return store.GetItem(conversationId, itemId) is { } item
            ? new JsonOk<ConversationItemWire>(ToWire(item), ContextJsonContext.Default.ConversationItemWire)
            : ItemNotFound(conversationId, itemId);
    }

    /// <summary>Deletes one item and answers with the conversation, as OpenAI does. The conversation's level stays.</summary>
    public static IResult DeleteItem(string conversationId, string itemId, [FromServices] IConversationStore store, [FromServices] ConversationStoreOptions options)
    {
        if (Check(options, conversationId, itemId) is { } error) return error;
        if (!store.DeleteItem(conversationId, itemId))
        {
            return store.Get(conversationId) is null ? NotFound(conversationId) : ItemNotFound(conversationId, itemId);
        }

        return store.Get(conversationId) is { } conversation ? Ok(ToWire(conversation)) : NotFound(conversationId);
    }

    /// <summary>The level items added by hand are stored at: what the classifier finds in them, raised by the caller's header.</summary>
    private static Inference.ApiResult<PrivacyLevel> Assess(HttpContext http, IPrivacyClassifier classifier, IReadOnlyList<NewConversationItem> items)
    {
        var level = PrivacyLevel.Public;
        if (items.Count > 0)
        {
            try
            {
                level = classifier.Classify(string.Join('\n', items.Select(i => i.Content))).Privacy;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                level = PrivacyLevel.Confidential; // fail closed, as the chat path does
            }
        }

        if (http.Request.Headers.TryGetValue(PrivacyHeader.Name, out var header))
        {
            if (!PrivacyHeader.TryParse(header.ToString(), out var asked))
            {
                return new ApiError(StatusCodes.Status400BadRequest,
                    $"The {PrivacyHeader.Name} header must be one of public, internal, confidential, restricted.",
                    ApiError.InvalidRequest, PrivacyHeader.Name, "invalid_privacy_header");
            }

            level = asked > level ? asked : level; // a header only raises what is stored
        }

        return level;
    }

    private static ApiError? Disabled(ConversationStoreOptions options) => options.Enabled ? null : HistoryDisabled("conversation_id");

    /// <summary>The 400 for every conversation feature when the gateway runs with <c>--no-history</c>.</summary>
    public static ApiError HistoryDisabled(string param) =>
        new(StatusCodes.Status400BadRequest,
            "Conversation history is turned off on this gateway (--no-history): conversations cannot be stored or used.",
            ApiError.InvalidRequest, param, "history_disabled");

    private static ApiError? Check(ConversationStoreOptions options, string conversationId, string? itemId = null)
    {
        if (Disabled(options) is { } disabled) return disabled;
        if (!ConversationDefaults.IsConversationId(conversationId))
        {
            return ApiErrors.InvalidParameter("conversation_id", "Invalid conversation id: expected 'conv_' followed by 32 lowercase hex digits.");
        }

        return itemId is not null && !ConversationDefaults.IsItemId(itemId)
            ? ApiErrors.InvalidParameter("item_id", "Invalid item id: expected 'msg_' followed by 32 lowercase hex digits.")
            : null;
    }

    public static ApiError NotFound(string conversationId, string param = "conversation_id") =>
        new(StatusCodes.Status404NotFound, $"Conversation with id '{conversationId}' not found.", ApiError.InvalidRequest, param, "conversation_not_found");

    private static ApiError ItemNotFound(string conversationId, string itemId) =>
        new(StatusCodes.Status404NotFound, $"Item with id '{itemId}' not found in conversation '{conversationId}'.", ApiError.InvalidRequest, "item_id", "item_not_found");

    private static JsonOk<ConversationWire> Ok(ConversationWire conversation) => new(conversation, ContextJsonContext.Default.ConversationWire);

    private static JsonOk<ListWire<ConversationItemWire>> Items(ListWire<ConversationItemWire> list) => new(list, ContextJsonContext.Default.ListWireConversationItemWire);

    private static ListWire<TWire> ToList<T, TWire>(Page<T> page, Func<T, TWire> map, Func<T, string> id) =>
        new([.. page.Data.Select(map)], page.Data.Count > 0 ? id(page.Data[0]) : null, page.Data.Count > 0 ? id(page.Data[^1]) : null, page.HasMore);

    public static ConversationWire ToWire(Conversation c) =>
        new(c.Id, c.CreatedAt.ToUnixTimeSeconds(), c.Metadata, PrivacyHeader.Format((PrivacyLevel)c.Privacy));

    public static ConversationItemWire ToWire(ConversationItem i) => i.Type switch
    {
        ConversationItemTypes.FunctionCall => new(i.Id, i.Type, null, null, i.CreatedAt.ToUnixTimeSeconds(), i.Backend)
        {
            CallId = i.CallId, Name = i.Name, Arguments = i.Content,
        },
        ConversationItemTypes.FunctionCallOutput => new(i.Id, i.Type, null, null, i.CreatedAt.ToUnixTimeSeconds(), i.Backend)
        {
            CallId = i.CallId, Output = i.Content,
        },
        _ => new(i.Id, i.Type, i.Role, [i.Role == "assistant" ? new ContentPartWire("output_text", i.Content, []) : new ContentPartWire("input_text", i.Content)],
            i.CreatedAt.ToUnixTimeSeconds(), i.Backend),
    };
}
