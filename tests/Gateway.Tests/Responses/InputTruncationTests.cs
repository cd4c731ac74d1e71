using InferenceMesh.Engine;
using InferenceMesh.Gateway.Responses;

namespace InferenceMesh.Gateway.Tests.Responses;

/// <summary>
/// The unit rules of <c>truncation: "auto"</c> on messages as the local step holds them (roles after translation: developer
/// is system, a function call is an assistant message, its output a tool message), with a budget of total content length
/// standing in for the context (the real engine's fit is tested in ResponseSettingsTests).
/// </summary>
public sealed class InputTruncationTests
{
    private static ChatMessage M(string role, string content) => new(role, content);

    private static Func<IReadOnlyList<ChatMessage>, bool> Budget(int characters) => kept => kept.Sum(m => m.Content.Length) <= characters;

    [Fact]
    public void Messages_that_fit_are_kept_as_they_are()
    {
        IReadOnlyList<ChatMessage> messages = [M("system", "sys"), M("user", "aaaa"), M("assistant", "bbbb"), M("user", "cccc")];

        Assert.Same(messages, InputTruncation.Fit(messages, Budget(15)));
    }

    [Fact]
    public void The_fewest_oldest_messages_are_dropped_and_system_messages_stay_where_they_are()
    {
        IReadOnlyList<ChatMessage> messages =
            [M("system", "S"), M("user", "u1xx"), M("assistant", "a1xx"), M("system", "D"), M("user", "u2xx"), M("assistant", "a2xx"), M("user", "u3xx")];

        var kept = InputTruncation.Fit(messages, Budget(2 + 4 * 3));

        Assert.Equal(["S", "D", "u2xx", "a2xx", "u3xx"], kept.Select(m => m.Content));
    }

    [Fact]
    public void A_function_call_goes_with_its_outputs_never_without_them()
    {
        IReadOnlyList<ChatMessage> messages =
        [
            M("user", "u1"), M("assistant", "call-a call-b"), M("tool", "out-a"), M("tool", "out-b"), M("assistant", "a2"), M("user", "u3"),
        ];

        // Room for a call's output but not for the call with it: the call and both outputs go together.
        var kept = InputTruncation.Fit(messages, Budget("out-b".Length + "a2".Length + "u3".Length + "out-a".Length));

        Assert.Equal(["a2", "u3"], kept.Select(m => m.Content));
    }

    [Fact]
    public void The_newest_turn_is_never_dropped_even_when_it_cannot_fit()
    {
        IReadOnlyList<ChatMessage> messages = [M("system", "S"), M("user", "old"), M("assistant", "call"), M("tool", "output")];

        var kept = InputTruncation.Fit(messages, Budget(1));

        Assert.Equal(["S", "call", "output"], kept.Select(m => m.Content)); // the shortest allowed: the caller's check then names the limit
    }
}
