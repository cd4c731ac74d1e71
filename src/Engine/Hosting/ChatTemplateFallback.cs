using System.Text;

namespace InferenceMesh.Engine.Hosting;

/// <summary>
/// The prompt format for models whose GGUF has no chat template (base models such as stories260K), or a
/// template llama.cpp does not recognise. A conversation that is a single user message is passed as is,
/// so a base model simply continues it. Anything longer becomes a plain transcript, one
/// "Role: content" paragraph per message, ending with "Assistant:" for the model to continue.
/// </summary>
internal static class ChatTemplateFallback
{
    public static string Apply(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 1 && messages[0].Role == "user")
        {
            return messages[0].Content;
        }

        var builder = new StringBuilder();
        foreach (var message in messages)
        {
            builder.Append(RoleLabel(message.Role)).Append(": ").Append(message.Content).Append("\n\n");
        }

        return builder.Append("Assistant:").ToString();
    }

    private static string RoleLabel(string role) => role switch
    {
        "system" or "developer" => "System",
        "user" => "User",
        "assistant" => "Assistant",
        "tool" => "Tool",
        _ => role.Length == 0 ? "User" : char.ToUpperInvariant(role[0]) + role[1..],
    };
}
