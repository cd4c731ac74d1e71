using System.Text;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// Managed conveniences over <c>llama_tokenize</c>, <c>llama_token_to_piece</c> and <c>llama_detokenize</c>
/// (each grows its buffer when llama.cpp reports the size it needs). Tokenisation is thread-safe in llama.cpp.
/// </summary>
internal static unsafe class LlamaTokenizer
{
    /// <summary>Tokenises UTF-8 text; addSpecial adds BOS/EOS as the model asks, parseSpecial tokenises control-token text.</summary>
    public static int[] Tokenize(IntPtr vocab, string text, bool addSpecial, bool parseSpecial)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var tokens = new int[bytes.Length + 4];
        while (true)
        {
            int count;
            fixed (byte* textPointer = bytes)
            fixed (int* tokenPointer = tokens)
            {
                count = LlamaNative.llama_tokenize(vocab, textPointer, bytes.Length, tokenPointer, tokens.Length, addSpecial, parseSpecial);
            }

            if (count >= 0)
            {
                return tokens[..count];
            }

            if (count == int.MinValue)
            {
                throw new InvalidOperationException("llama_tokenize overflowed int32.");
            }

            tokens = new int[-count];
        }
    }

    /// <summary>The UTF-8 bytes of one token (may be part of a multi-byte character).</summary>
    public static byte[] TokenToPiece(IntPtr vocab, int token, bool special)
    {
        Span<byte> buffer = stackalloc byte[64];
        fixed (byte* pointer = buffer)
        {
            var length = LlamaNative.llama_token_to_piece(vocab, token, pointer, buffer.Length, 0, special);
            if (length >= 0)
            {
                return buffer[..length].ToArray();
            }

            var large = new byte[-length];
            fixed (byte* largePointer = large)
            {
                length = LlamaNative.llama_token_to_piece(vocab, token, largePointer, large.Length, 0, special);
            }

            return large[..length];
        }
    }

    /// <summary>Converts tokens back to text (removeSpecial drops the BOS/EOS the model adds).</summary>
    public static string Detokenize(IntPtr vocab, ReadOnlySpan<int> tokens, bool removeSpecial, bool unparseSpecial)
    {
        var buffer = new byte[Math.Max(16, tokens.Length * 8)];
        fixed (int* tokenPointer = tokens)
        {
            while (true)
            {
                int length;
                fixed (byte* textPointer = buffer)
                {
                    length = LlamaNative.llama_detokenize(vocab, tokenPointer, tokens.Length, textPointer, buffer.Length, removeSpecial, unparseSpecial);
                }

                if (length >= 0)
                {
                    return Encoding.UTF8.GetString(buffer, 0, length);
                }

                buffer = new byte[-length];
            }
        }
    }
}
