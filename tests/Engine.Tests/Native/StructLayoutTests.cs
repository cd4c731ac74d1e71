using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using InferenceMesh.Engine.Native;
using InferenceMesh.Tests;

namespace InferenceMesh.Engine.Tests.Native;

/// <summary>
/// Compares every bound struct with the pinned llama.h, field by field: a tiny C program compiled with the
/// machine's <c>cc</c> prints sizeof/offsetof of every field the header declares, and each must match
/// Marshal.SizeOf/Marshal.OffsetOf of the managed field of the same name. Re-run after a tag change.
/// </summary>
public sealed partial class StructLayoutTests
{
    /// <summary>Every managed struct that mirrors a C struct, with the C struct name.</summary>
    private static readonly (Type Managed, string C)[] Bound =
    [
        (typeof(LlamaModelParams), "llama_model_params"),
        (typeof(LlamaContextParams), "llama_context_params"),
        (typeof(LlamaBatch), "llama_batch"),
        (typeof(LlamaTokenData), "llama_token_data"),
        (typeof(LlamaTokenDataArray), "llama_token_data_array"),
        (typeof(LlamaLogitBias), "llama_logit_bias"),
        (typeof(LlamaSamplerChainParams), "llama_sampler_chain_params"),
        (typeof(LlamaChatMessage), "llama_chat_message"),
        (typeof(LlamaModelQuantizeParams), "llama_model_quantize_params"),
        (typeof(LlamaPerfContextData), "llama_perf_context_data"),
    ];

    [Fact]
    public void Every_bound_struct_matches_llama_h_field_by_field()
    {
        var source = LlamaSourceDirectory();
        var header = File.ReadAllText(Path.Combine(source, "include", "llama.h"));
        var cFields = Bound.ToDictionary(b => b.C, b => ParseStructFields(header, b.C));
        var native = RunProbe(source, cFields);

        var mismatches = new List<string>();
        foreach (var (managed, c) in Bound)
        {
            var cSize = native[c];
            var marshalSize = Marshal.SizeOf(managed);
            if (marshalSize != cSize)
            {
                mismatches.Add($"{c} ({managed.Name}): sizeof is {cSize}, Marshal.SizeOf is {marshalSize}");
            }

            var blittableSize = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(managed).Invoke(null, null)!;
            if (blittableSize != cSize)
            {
                mismatches.Add($"{c} ({managed.Name}): sizeof is {cSize}, Unsafe.SizeOf is {blittableSize} (the struct is not blittable as laid out)");
            }

            var managedFields = managed.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).ToDictionary(f => f.Name);
            foreach (var field in cFields[c])
            {
                if (!managedFields.TryGetValue(field, out var info))
                {
                    mismatches.Add($"{c}.{field}: missing in {managed.Name}");
                    continue;
                }

                var cOffset = native[$"{c}.{field}"];
                var cFieldSize = native[$"{c}.{field}#size"];
                var offset = (int)Marshal.OffsetOf(managed, field);
                var size = ManagedSize(info.FieldType);
                if (offset != cOffset)
                {
                    mismatches.Add($"{c}.{field}: offsetof is {cOffset}, {managed.Name}.{field} is at {offset}");
                }

                if (size != cFieldSize)
                {
                    mismatches.Add($"{c}.{field}: size is {cFieldSize}, {managed.Name}.{field} ({info.FieldType.Name}) is {size}");
                }
            }

            foreach (var extra in managedFields.Keys.Except(cFields[c]))
            {
                mismatches.Add($"{c}: {managed.Name}.{extra} has no field of that name in llama.h");
            }
        }

        Assert.True(mismatches.Count == 0, "Struct layout differs from the pinned llama.h:" + Environment.NewLine + string.Join(Environment.NewLine, mismatches));
    }

    [Fact]
    public void Header_parser_finds_the_fields_it_should()
    {
        var header = File.ReadAllText(Path.Combine(LlamaSourceDirectory(), "include", "llama.h"));
        Assert.Equal(new[] { "id", "logit", "p" }, ParseStructFields(header, "llama_token_data"));
        Assert.Equal(new[] { "n_tokens", "token", "embd", "pos", "n_seq_id", "seq_id", "logits" }, ParseStructFields(header, "llama_batch"));
    }

    /// <summary>The pinned llama.cpp checkout; fetched with tools/fetch-llama-source.sh when missing.</summary>
    private static string LlamaSourceDirectory()
    {
        var checkout = Path.Combine(TestPaths.RepoRoot, "artifacts", $"llama.cpp-{LlamaLibrary.PinnedTag}");
        if (File.Exists(Path.Combine(checkout, "include", "llama.h")))
        {
            return checkout;
        }

        var (exit, output, error) = Run("bash", [Path.Combine(TestPaths.RepoRoot, "tools", "fetch-llama-source.sh")], TestPaths.RepoRoot);
        Assert.True(exit == 0, $"tools/fetch-llama-source.sh failed ({exit}): {error}");
        var path = output.Trim().Split('\n')[^1].Trim();
        Assert.True(File.Exists(Path.Combine(path, "include", "llama.h")), $"llama.h not found under {path}");
        return path;
    }

    /// <summary>Field names of a C struct body (no nested braces in the structs we bind), comments removed.</summary>
    private static List<string> ParseStructFields(string header, string structName)
    {
        var code = CommentPattern().Replace(header, " ");
        var match = Regex.Match(code, $@"struct\s+{structName}\s*\{{(?<body>[^{{}}]*)\}}");
        Assert.True(match.Success, $"struct {structName} not found in llama.h");
        var fields = new List<string>();
        foreach (var declaration in match.Groups["body"].Value.Split(';'))
        {
            var text = declaration.Trim();
            if (text.Length == 0)
            {
                continue;
            }

            var functionPointer = Regex.Match(text, @"\(\s*\*\s*(\w+)\s*\)");
            var name = functionPointer.Success ? functionPointer.Groups[1].Value : Regex.Match(text, @"(\w+)\s*(\[[^\]]*\])?$").Groups[1].Value;
            Assert.False(string.IsNullOrEmpty(name), $"cannot parse '{text}' in struct {structName}");
            fields.Add(name);
        }

        return fields;
    }

    /// <summary>Compiles and runs a C program that prints "key|value" lines: struct sizes, field offsets and field sizes.</summary>
    private static Dictionary<string, int> RunProbe(string source, Dictionary<string, List<string>> structs)
    {
        var program = new StringBuilder();
        program.AppendLine("#include <stddef.h>");
        program.AppendLine("#include <stdio.h>");
        program.AppendLine("#include \"llama.h\"");
        program.AppendLine("int main(void) {");
        foreach (var (name, fields) in structs)
        {
            program.AppendLine($"    printf(\"{name}|%zu\\n\", sizeof(struct {name}));");
            foreach (var field in fields)
            {
                program.AppendLine($"    printf(\"{name}.{field}|%zu\\n\", offsetof(struct {name}, {field}));");
                program.AppendLine($"    printf(\"{name}.{field}#size|%zu\\n\", sizeof(((struct {name} *)0)->{field}));");
            }
        }

        program.AppendLine("    return 0;");
        program.AppendLine("}");

        var work = TestPaths.NewTempDir("im-layout");
        try
        {
            var cFile = Path.Combine(work, "layout.c");
            var exe = Path.Combine(work, "layout");
            File.WriteAllText(cFile, program.ToString());
            var (ccExit, _, ccError) = Run(
                "cc",
                ["-std=c11", "-I", Path.Combine(source, "include"), "-I", Path.Combine(source, "ggml", "include"), cFile, "-o", exe],
                work);
            Assert.True(ccExit == 0, $"cc failed ({ccExit}):{Environment.NewLine}{ccError}");

            var (exit, output, error) = Run(exe, [], work);
            Assert.True(exit == 0, $"layout probe failed ({exit}): {error}");
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('|'))
                .ToDictionary(parts => parts[0], parts => int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static int ManagedSize(Type type) =>
        type.IsPointer || type == typeof(IntPtr) || type == typeof(UIntPtr) ? IntPtr.Size
        : type.IsEnum ? Marshal.SizeOf(Enum.GetUnderlyingType(type))
        : Marshal.SizeOf(type);

    private static (int Exit, string Output, string Error) Run(string file, string[] arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentPattern();
}
