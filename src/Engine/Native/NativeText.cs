using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Native;

/// <summary>UTF-8 helpers for strings that llama.cpp owns or fills into caller buffers.</summary>
internal static unsafe class NativeText
{
    /// <summary>Reads a NUL-terminated UTF-8 string that llama.cpp owns; null for NULL.</summary>
    public static string? FromUtf8(byte* text) => text is null ? null : Marshal.PtrToStringUTF8((IntPtr)text);

    /// <summary>Calls a llama.cpp "fill this buffer, return the length or -1" getter, growing the buffer as needed.</summary>
    public static string? ReadString(Func<IntPtr, nuint, int> fill, int initialSize = 256)
    {
        var size = initialSize;
        while (true)
        {
            var buffer = new byte[size];
            int length;
            fixed (byte* p = buffer)
            {
                length = fill((IntPtr)p, (nuint)buffer.Length);
            }

            if (length < 0)
            {
                return null;
            }

            if (length < size)
            {
                return System.Text.Encoding.UTF8.GetString(buffer, 0, length);
            }

            size = length + 1;
        }
    }
}
