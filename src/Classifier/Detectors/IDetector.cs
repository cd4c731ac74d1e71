using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// One family of patterns (cards, IBANs, tokens, ...). Implementations are stateless and thread-safe,
/// run in time linear in the text (bounded quantifiers only), and never keep or log the text.
/// </summary>
internal interface IDetector
{
    /// <summary>Adds every validated hit in <paramref name="text"/> to <paramref name="sink"/>.</summary>
    void Detect(string text, in TextProfile profile, FindingSink sink);
}

/// <summary>Cheap facts about the text, computed once per pass so detectors can skip it early.</summary>
/// <param name="DigitCount">How many ASCII digits the text holds.</param>
/// <param name="LongestDigitRun">The longest run of consecutive ASCII digits.</param>
internal readonly record struct TextProfile(int DigitCount, int LongestDigitRun)
{
    public static TextProfile Of(string text)
    {
        var chars = MemoryMarshal.Cast<char, ushort>(text.AsSpan());
        var digits = 0;
        var longest = 0;
        var run = 0;
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            // eight chars at a time: a lane is a digit when (c - '0') <= 9, unsigned
            var zero = Vector128.Create((ushort)'0');
            var nine = Vector128.Create((ushort)9);
            ref var first = ref MemoryMarshal.GetReference(chars);
            for (; i <= chars.Length - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                var block = Vector128.LoadUnsafe(ref first, (nuint)i);
                var mask = Vector128.LessThanOrEqual(block - zero, nine).ExtractMostSignificantBits();
                if (mask == 0)
                {
                    longest = Math.Max(longest, run);
                    run = 0;
                    continue;
                }

                digits += BitOperations.PopCount(mask);
                if (mask == 0xFF)
                {
                    run += Vector128<ushort>.Count;
                    continue;
                }

                for (var bit = 0; bit < Vector128<ushort>.Count; bit++)
                {
                    if ((mask & (1u << bit)) != 0)
                    {
                        run++;
                    }
                    else
                    {
                        longest = Math.Max(longest, run);
                        run = 0;
                    }
                }
            }
        }

        for (; i < chars.Length; i++)
        {
            if ((uint)(chars[i] - '0') <= 9)
            {
                digits++;
                run++;
            }
            else
            {
                longest = Math.Max(longest, run);
                run = 0;
            }
        }

        return new TextProfile(digits, Math.Max(longest, run));
    }
}
