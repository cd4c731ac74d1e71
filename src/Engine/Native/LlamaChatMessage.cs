using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary><c>struct llama_chat_message</c> (llama.h v0.5.0): two NUL-terminated UTF-8 strings owned by the caller.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct LlamaChatMessage
{
    public byte* role;
    public byte* content;
}
