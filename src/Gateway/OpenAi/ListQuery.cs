using System.Globalization;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>
/// OpenAI's list parameters, read the same way by every list endpoint of the gateway (files, vector stores and their
/// files, conversations and their items): <c>limit</c> (an integer from 1 to the endpoint's maximum), <c>order</c>
/// (<c>asc</c> or <c>desc</c>, default <c>desc</c>) and the <c>after</c> cursor, which must have the shape of an id of
/// that list. Each bad value is a 400 naming its parameter; a parameter given empty counts as not given.
/// <c>before</c> is refused (400): none of these lists pages backwards, and ignoring it would answer the wrong page.
/// Whether a well-formed <c>after</c> names an entry is the store's question (src/Gateway/README.md, "Paging").
/// </summary>
internal sealed record ListQuery(int Limit, bool Ascending, string? After)
{
    /// <param name="isId">True for a value that can be an id of this list.</param>
    /// <param name="idShape">The id's shape, for the message: "'file-' and 24 lowercase hex digits".</param>
    public static ApiResult<ListQuery> Read(IQueryCollection query, int defaultLimit, int maxLimit, Func<string, bool> isId, string idShape)
    {
        var limit = defaultLimit;
        if (Given(query, "limit") is { } limitText
            // .NET's parser ignores trailing NULs ("5\0" reads as 5): only ASCII digits are an integer here.
            && (limitText.AsSpan().ContainsAnyExceptInRange('0', '9')
                || !int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > maxLimit))
        {
            return ApiErrors.InvalidParameter("limit", string.Create(CultureInfo.InvariantCulture, $"'limit' must be an integer from 1 to {maxLimit}."));
        }

        var order = Given(query, "order");
        if (order is not (null or "asc" or "desc"))
        {
            return ApiErrors.InvalidParameter("order", "'order' must be 'asc' or 'desc'.");
        }

        if (Given(query, "before") is not null)
        {
            return ApiErrors.InvalidParameter("before", "'before' is not supported: page with 'after' (and 'order=asc' to go the other way).");
        }

        var after = Given(query, "after");
        if (after is not null && !isId(after))
        {
            return ApiErrors.InvalidParameter("after", $"'after' must be the id of an entry of this list: {idShape}.");
        }

        return new ListQuery(limit, order == "asc", after);
    }

    /// <summary>The 400 for a well-formed <c>after</c> that names no entry of the list, and never did.</summary>
    public static ApiError UnknownCursor() => ApiErrors.InvalidParameter("after", "'after' names no entry of this list.");

    private static string? Given(IQueryCollection query, string name) => query[name].ToString() is { Length: > 0 } value ? value : null;
}
