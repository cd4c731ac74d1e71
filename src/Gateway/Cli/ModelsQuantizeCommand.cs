using System.CommandLine;
using System.Globalization;
using InferenceMesh.Engine.Quantization;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.ModelCache.Store;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>inference-mesh models quantize &lt;model&gt; &lt;type&gt;</c>: quantises a stored model (a name of the store, or a
/// path to a GGUF file) in process with llama.cpp's quantiser and registers the result in the store as
/// <c>&lt;name&gt;-&lt;TYPE&gt;</c> with its lineage (source digest, type); or, with <c>--output</c>, writes a plain file.
/// </summary>
/// <remarks>
/// The input is validated with the managed GGUF reader before llama.cpp sees it (llama.cpp aborts the process on some
/// malformed files); an input of size 0 (empty, a FIFO, a device such as /dev/zero) is refused without reading it. Into the store, the quantised file is written to a temporary file in the store's blobs/ folder and
/// imported (hashed while copied), then the temporary file is deleted: the store has no "adopt this file" call yet, so
/// the output is written twice. A file quantised into a store whose folder does not exist creates it (a destination,
/// as for <c>pull</c>); a stored name is never looked up by creating one.
/// Exit codes (<see cref="ModelsCliExit"/>): 0 done, 1 failed, 2 bad arguments (unknown type, invalid input), 130 cancelled.
/// </remarks>
internal static class ModelsQuantizeCommand
{
    /// <param name="quantizer">Used instead of llama.cpp's in-process quantiser when set (tests).</param>
    public static Command Create(ModelsCliEnvironment environment, ILlamaQuantizer? quantizer = null)
    {
        var model = new Argument<string>("model") { Description = "A model name in the store, or the path of a GGUF file (F32/F16/BF16)." };
        const string typeHelp = "The quantisation type, as llama-quantize names it: Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K, F16, ...";
        var type = new Argument<string?>("type") { Description = typeHelp + " Or --type.", Arity = ArgumentArity.ZeroOrOne };
        var typeOption = new Option<string>("--type") { Description = typeHelp };
        var models = ModelsCliEnvironment.ModelsOption();
        var name = new Option<string>("--name") { Description = "The new model's name in the store. Default: <model>-<TYPE>." };
        var outputPath = new Option<string>("--output", "-o") { Description = "Write a plain GGUF file here instead of registering it in the store." };
        var threads = new Option<int?>("--threads", "-t") { Description = "Threads. Default: every core." };
        var allowRequantize = new Option<bool>("--allow-requantize") { Description = "Accept an input that is already quantised (quality suffers)." };
        var force = new Option<bool>("--force") { Description = "Replace an existing --output file or store name (a loose NAME.gguf in the models folder too)." };

        var command = new Command("quantize", "Quantise a model with llama.cpp (byte-identical to llama-quantize of the same tag).")
        {
            model, type, typeOption, models, name, outputPath, threads, allowRequantize, force,
        };

        // The type as the second argument or as --type (the acceptance interface's spelling): exactly one of them.
        command.Validators.Add(result =>
        {
            var positional = result.GetValue(type);
            var named = result.GetValue(typeOption);
            if (positional is null && named is null)
            {
                result.AddError("A quantisation type is required: `models quantize NAME Q8_0` or `models quantize NAME --type Q8_0`.");
            }
            else if (positional is not null && named is not null && !string.Equals(positional, named, StringComparison.OrdinalIgnoreCase))
            {
                result.AddError($"Two quantisation types given ('{positional}' and --type '{named}'): give one.");
            }
        });

        command.SetAction((parse, ct) => !ModelsCliEnvironment.ModelsFolderIsNotAFile(parse, models) ? Task.FromResult(ModelsCliExit.Usage) : RunAsync(
            new Request(
                parse.GetRequiredValue(model),
                parse.GetValue(typeOption) ?? parse.GetValue(type)!,
                parse.GetRequiredValue(models),
                parse.GetValue(name),
                parse.GetValue(outputPath),
                parse.GetValue(threads),
                parse.GetValue(allowRequantize),
                parse.GetValue(force)),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            quantizer ?? LlamaQuantizerFactory.Create(environment.LoggerFactory.CreateLogger("InferenceMesh.Quantize"), environment.Time),
            environment,
            ct));
        return command;
    }

    internal sealed record Request(string Model, string Type, string ModelsDirectory, string? Name, string? Output, int? Threads, bool AllowRequantize, bool Force);

    internal static async Task<int> RunAsync(Request request, TextWriter output, TextWriter error, ILlamaQuantizer quantizer, ModelsCliEnvironment environment, CancellationToken ct)
    {
        if (!QuantizationTypes.TryResolve(request.Type, out var type))
        {
            error.WriteLine($"inference-mesh: unknown quantisation type '{request.Type}'. Known: {string.Join(", ", QuantizationTypes.All.Select(t => t.Name))}.");
            return ModelsCliExit.Usage;
        }

        if (request.Output is "")
        {
            error.WriteLine("inference-mesh: --output needs a file path.");
            return ModelsCliExit.Usage;
        }

        // The input: a path to a file, else a name in the store.
        IModelStore? store = null;
        StoredModel? stored = null;
        string inputPath;
        string sourceName;
        if (File.Exists(request.Model))
        {
            inputPath = Path.GetFullPath(request.Model);
            sourceName = Path.GetFileNameWithoutExtension(inputPath);
        }
        else
        {
            // Looked up only in a folder that exists: opening a store creates it.
            store = Directory.Exists(request.ModelsDirectory) ? environment.OpenStore(request.ModelsDirectory) : null;
            stored = store?.Find(request.Model);
            if (stored is null)
            {
                error.WriteLine(store is null
                    ? $"inference-mesh: '{request.Model}' is not a file, and models folder '{request.ModelsDirectory}' does not exist."
                    : $"inference-mesh: '{request.Model}' is neither a file nor a model in {request.ModelsDirectory}.");
                return ModelsCliExit.Usage;
            }

            inputPath = stored.Path;
            sourceName = stored.Name;
        }

        // A FIFO or a device (/dev/zero) has no size: reading it hung on the FIFO, or was called "an empty file".
        if (new FileInfo(inputPath).Length == 0)
        {
            error.WriteLine($"inference-mesh: '{ModelsProgress.Printable(inputPath)}' is empty or not a regular file (a FIFO or a device).");
            return ModelsCliExit.Usage;
        }

        var gguf = GgufReader.Read(inputPath);
        if (!gguf.IsValid)
        {
            error.WriteLine($"inference-mesh: '{inputPath}' is not a valid GGUF file: {gguf.Error}.");
            return ModelsCliExit.Usage;
        }

        if (gguf.File.Quantization is not ("F32" or "F16" or "BF16") && !request.AllowRequantize && !type.OnlyCopy)
        {
            error.WriteLine($"inference-mesh: '{sourceName}' is already quantised ({gguf.File.Quantization}); quantise the F32/F16 original, or pass --allow-requantize.");
            return ModelsCliExit.Usage;
        }

        var options = new QuantizeOptions
        {
            Threads = request.Threads,
            AllowRequantize = request.AllowRequantize,
            Overwrite = request.Force,
            ExpectedOutputBytes = QuantizedSizeEstimator.Estimate(
                gguf.File.Tensors.Select(t => new QuantizationTensor(t.Name, t.Dimensions, t.ByteCount)), type, gguf.File.DataOffset),
        };
        var progress = new TextProgress(error);

        if (request.Output is { } plain)
        {
            var result = await quantizer.QuantizeAsync(inputPath, plain, type.Name, options, progress, ct).ConfigureAwait(false);
            return Report(result, output, error);
        }

        // Into the store: quantise beside the blobs (same file system), import with lineage, drop the temporary file.
        store ??= environment.OpenStore(request.ModelsDirectory);
        var newName = request.Name ?? $"{sourceName}-{type.Name}";
        if (ModelName.Validate(newName) is { } invalid)
        {
            error.WriteLine($"inference-mesh: cannot use '{newName}' as a model name: {invalid}.");
            return ModelsCliExit.Usage;
        }

        // A loose NAME.gguf not hashed yet is a model of that name too: it was found only by the import, after the
        // whole quantisation, and --force did not replace it.
        var loose = store.LooseFileOf(newName);
        if ((loose is not null || store.Find(newName) is not null) && !request.Force)
        {
            error.WriteLine(loose is null
                ? $"inference-mesh: a model named '{newName}' exists; choose --name or pass --force."
                : $"inference-mesh: a model named '{newName}' exists (the file '{ModelsProgress.Printable(loose)}' in the models folder); choose --name, or pass --force to replace the file.");
            return ModelsCliExit.Usage;
        }

        var sourceDigest = stored?.Digest ?? (await StreamHasher.HashFileAsync(inputPath, null, ct).ConfigureAwait(false)).Digest;
        var temp = Path.Combine(store.Layout.Blobs, $".quantized-{Guid.NewGuid():N}.tmp");
        try
        {
            var result = await quantizer.QuantizeAsync(inputPath, temp, type.Name, options, progress, ct).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                return Report(result, output, error);
            }

            var registration = new ModelRegistration { Name = newName, Lineage = new ModelLineage(sourceDigest, type.Name), ReplaceLooseFile = request.Force };
            var imported = await store.ImportFileAsync(temp, registration, ct).ConfigureAwait(false);
            if (!imported.Succeeded)
            {
                error.WriteLine($"inference-mesh: quantised, but the store refused the file ({imported.Error}): {imported.Message}");
                return ModelsCliExit.Failed;
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{newName}: {type.Name} from {sourceName}, {imported.Model!.SizeBytes} bytes, sha256 {imported.Model.Digest}, {result.Elapsed.TotalSeconds:0.0} s"));
            return ModelsCliExit.Ok;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static int Report(QuantizeResult result, TextWriter output, TextWriter error)
    {
        if (result.Succeeded)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.OutputPath}: {result.Type.Name}, {result.OutputBytes} bytes, {result.Elapsed.TotalSeconds:0.0} s"));
            return ModelsCliExit.Ok;
        }

        error.WriteLine($"inference-mesh: quantisation failed ({result.Error}): {result.Message}");
        return result.Error is QuantizeError.UnknownType or QuantizeError.InvalidOptions or QuantizeError.InputNotFound or QuantizeError.OutputExists or QuantizeError.OutputFolderMissing or QuantizeError.SameFile ? ModelsCliExit.Usage : result.Error == QuantizeError.Cancelled ? ModelsCliExit.Cancelled : ModelsCliExit.Failed;
    }

    /// <summary>One line per 10 % step, on the error stream (stdout keeps only the result).</summary>
    private sealed class TextProgress(TextWriter writer) : IProgress<double>
    {
        private int _lastDecile = -1;

        public void Report(double value)
        {
            var decile = (int)(value * 10);
            if (Interlocked.Exchange(ref _lastDecile, Math.Max(decile, Volatile.Read(ref _lastDecile))) < decile)
            {
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"quantising… {decile * 10}%"));
            }
        }
    }
}
