using System.Text.RegularExpressions;

namespace InferenceMesh.Gateway.Responses;

/// <summary>
/// The chat pipeline's error <c>param</c> as the Responses field the client sent: <c>messages…</c> is <c>input</c>,
/// <c>max_completion_tokens</c> is <c>max_output_tokens</c>, <c>response_format…</c> is <c>text.format…</c>,
/// <c>tools[i].function.x</c> is <c>tools[i].x</c>, <c>logprobs</c> is <c>include</c>, <c>reasoning_effort</c> is
/// <c>reasoning.effort</c>, <c>verbosity</c> is <c>text.verbosity</c>. Any other name is the same in both APIs.
/// </summary>
internal static partial class ResponseErrors
{
    public static string? Param(string? chatParam) => chatParam switch
    {
        null => null,
        "messages" => "input",
        _ when chatParam.StartsWith("messages[", StringComparison.Ordinal) => "input",
        "max_tokens" or "max_completion_tokens" => "max_output_tokens",
        "response_format" or "response_format.json_schema" => "text.format",
        _ when chatParam.StartsWith("response_format.json_schema.", StringComparison.Ordinal) => "text.format." + chatParam["response_format.json_schema.".Length..],
        _ when chatParam.StartsWith("response_format.", StringComparison.Ordinal) => "text.format." + chatParam["response_format.".Length..],
        "tool_choice.function.name" or "tool_choice.function" => "tool_choice.name",
        "logprobs" => "include",
        "reasoning_effort" => "reasoning.effort",
        "verbosity" => "text.verbosity",
        _ => ToolFunction().Replace(chatParam, "$1"),
    };

    [GeneratedRegex(@"^(tools\[\d+\])\.function(?=\.|$)")]
    private static partial Regex ToolFunction();
}
