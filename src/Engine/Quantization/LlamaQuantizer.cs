using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using InferenceMesh.Engine.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Engine.Quantization;

/// <summary>The in-process <see cref="ILlamaQuantizer"/> over <c>llama_model_quantize</c>.</summary>
internal sealed partial class LlamaQuantizer : ILlamaQuantizer
{
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly string? _nativeDirectory;
    private readonly NativeQuantize _native;

    /// <summary>The blocking call that writes the output (input, output, type, threads, allowRequantize) and returns llama.cpp's code.</summary>
    internal delegate uint NativeQuantize(string input, string output, QuantizationTypeInfo info, int threads, bool allowRequantize);

    /// <param name="native">Instead of <c>llama_model_quantize</c> (tests: a run that cannot finish before it is told to).</param>
    public LlamaQuantizer(ILogger logger, TimeProvider? timeProvider = null, string? nativeDirectory = null, NativeQuantize? native = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _nativeDirectory = nativeDirectory;
        _native = native ?? Quantize;
    }

    public async Task<QuantizeResult> QuantizeAsync(
        string inputPath,
        string outputPath,
        QuantizationType type,
        QuantizeOptions? options = null,
        IProgress<double>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        options ??= new QuantizeOptions();

        if (!type.TryResolve(out var info))
        {
            return Fail(QuantizeError.UnknownType, $"Unknown quantisation type '{type.Name}'. Known types: {string.Join(", ", QuantizationTypes.All.Select(t => t.Name))}.");
        }

        try
        {
            options.Validate();
        }
        catch (ValidationException e)
        {
            return Fail(QuantizeError.InvalidOptions, e.Message, info);
        }

        var input = Path.GetFullPath(inputPath);
        var output = Path.GetFullPath(outputPath);
        if (Check(input, output, options, info) is { } refused)
        {
            return refused;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Fail(QuantizeError.Cancelled, "Cancelled before quantisation started.", info);
        }

        try
        {
            LlamaLibrary.InitializeWithoutBackends(_logger, _nativeDirectory);
        }
        catch (LlamaLibraryLoadException e)
        {
            Log.NativeUnavailable(_logger, e);
            return Fail(QuantizeError.NativeLibraryUnavailable, e.Message, info);
        }

        using var mallocThresholds = GlibcMallocTuning.ForQuantization(); // until the native call has returned, or a cancellation stopped waiting for it
        var threads = options.Threads ?? Environment.ProcessorCount;
        var temp = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}{QuantizeDefaults.PartialSuffix}");
        Log.Started(_logger, info.Name, input, output, threads);
        progress?.Report(0);
        if (cancellationToken.IsCancellationRequested)
        {
            return Fail(QuantizeError.Cancelled, "Cancelled before quantisation started.", info) with { Threads = threads };
        }

        // llama.cpp cannot be stopped: a cancellation deletes the partial file at once (llama.cpp writes on into the
        // unlinked file) and answers without waiting, so a process that exits on Ctrl-C leaves no partial file behind.
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var native = RunNativeAsync(_native, input, temp, info, threads, options.AllowRequantize);
        TimeSpan elapsed;
        using (cancellationToken.Register(() =>
        {
            TryDelete(temp);
            cancelled.TrySetResult();
        }))
        {
            elapsed = await ReportProgressUntilDoneAsync(Task.WhenAny(native, cancelled.Task), temp, options, progress).ConfigureAwait(false);
        }

        if (!native.IsCompleted)
        {
            Log.Cancelled(_logger, info.Name, input);
            return Fail(QuantizeError.Cancelled, "Cancelled; the partial output was deleted (llama.cpp's thread ends on its own).", info) with { Threads = threads, Elapsed = elapsed };
        }

        var (code, exception) = await native.ConfigureAwait(false);

        if (exception is not null || code != 0 || cancellationToken.IsCancellationRequested)
        {
            TryDelete(temp);
            if (exception is not null)
            {
                // DllNotFound/EntryPointNotFound and the like: a broken installation, not an expected failure.
                throw new InvalidOperationException("llama_model_quantize could not be called.", exception);
            }

            if (code != 0)
            {
                Log.NativeFailed(_logger, info.Name, input, code);
                return Fail(QuantizeError.NativeFailed, $"llama.cpp could not quantise '{input}' to {info.Name} (llama_model_quantize returned {code}; llama.cpp's reason is in the log).", info) with { NativeCode = code, Threads = threads, Elapsed = elapsed };
            }

            Log.Cancelled(_logger, info.Name, input);
            return Fail(QuantizeError.Cancelled, "Cancelled; the partial output was deleted.", info) with { NativeCode = code, Threads = threads, Elapsed = elapsed };
        }

        try
        {
            File.Move(temp, output, overwrite: options.Overwrite);
        }
        catch (IOException e)
        {
            TryDelete(temp);
            return Fail(QuantizeError.OutputWriteFailed, $"Could not move the quantised file to '{output}': {e.Message}", info) with { NativeCode = code, Threads = threads, Elapsed = elapsed };
        }
        catch (UnauthorizedAccessException e)
        {
            TryDelete(temp);
            return Fail(QuantizeError.OutputWriteFailed, $"Could not move the quantised file to '{output}': {e.Message}", info) with { NativeCode = code, Threads = threads, Elapsed = elapsed };
        }

        var bytes = new FileInfo(output).Length;
        progress?.Report(1);
        Log.Finished(_logger, info.Name, output, bytes, elapsed.TotalMilliseconds);
        return new QuantizeResult
        {
            Error = QuantizeError.None,
            Message = $"Quantised to {info.Name}.",
            Type = info,
            OutputPath = output,
            OutputBytes = bytes,
            NativeCode = code,
            Threads = threads,
            Elapsed = elapsed,
        };
    }

    private static QuantizeResult? Check(string input, string output, QuantizeOptions options, QuantizationTypeInfo info)
    {
        if (!File.Exists(input))
        {
            return Fail(QuantizeError.InputNotFound, $"Input '{input}' does not exist.", info);
        }

        try
        {
            using var probe = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(QuantizeError.InputUnreadable, $"Input '{input}' cannot be read: {e.Message}", info);
        }

        // Through a symbolic link too: the rename onto the output would replace the file the link names (the input).
        if (string.Equals(input, output, StringComparison.Ordinal) || string.Equals(FinalTarget(input), FinalTarget(output), StringComparison.Ordinal))
        {
            return Fail(QuantizeError.SameFile, $"Input and output are the same file: '{input}'.", info);
        }

        // Checked before the native call: a folder was found only by the rename at the end of the whole run.
        if (Directory.Exists(output))
        {
            return Fail(QuantizeError.OutputExists, $"Output '{output}' is a folder, not a file.", info);
        }

        if (!Directory.Exists(Path.GetDirectoryName(output)))
        {
            return Fail(QuantizeError.OutputFolderMissing, $"Output folder '{Path.GetDirectoryName(output)}' does not exist.", info);
        }

        if (File.Exists(output) && !options.Overwrite)
        {
            return Fail(QuantizeError.OutputExists, $"Output '{output}' exists (allow overwriting to replace it).", info);
        }

        return null;
    }

    /// <summary>The file a path finally names, through symbolic links (the path itself when it is none or cannot be read).</summary>
    private static string FinalTarget(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    /// <summary>llama_model_quantize blocks for the whole run: it gets a thread of its own, not a pool thread.</summary>
    private static Task<(uint Code, Exception? Exception)> RunNativeAsync(NativeQuantize quantize, string input, string temp, QuantizationTypeInfo info, int threads, bool allowRequantize)
    {
        var done = new TaskCompletionSource<(uint, Exception?)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult((quantize(input, temp, info, threads, allowRequantize), null));
            }
            catch (Exception e)
            {
                done.SetResult((uint.MaxValue, e));
            }
        })
        {
            IsBackground = true,
            Name = "llama-quantize",
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>llama-quantize's parameters: the defaults, then ftype, nthread and only_copy exactly as its main() sets them.</summary>
    internal static unsafe uint Quantize(string input, string output, QuantizationTypeInfo info, int threads, bool allowRequantize)
    {
        var parameters = LlamaNative.llama_model_quantize_default_params();
        parameters.ftype = (LlamaFtype)info.FileType;
        parameters.nthread = threads;
        parameters.only_copy = info.OnlyCopy;
        parameters.allow_requantize = allowRequantize;
        return LlamaNative.llama_model_quantize(input, output, &parameters);
    }

    private async Task<TimeSpan> ReportProgressUntilDoneAsync(Task native, string temp, QuantizeOptions options, IProgress<double>? progress)
    {
        var started = _timeProvider.GetTimestamp();
        if (progress is null || options.ExpectedOutputBytes is not { } expected)
        {
            await native.ConfigureAwait(false);
            return _timeProvider.GetElapsedTime(started);
        }

        using var timer = new PeriodicTimer(options.ProgressInterval, _timeProvider);
        var last = 0.0;
        var tick = timer.WaitForNextTickAsync().AsTask();
        while (await Task.WhenAny(native, tick).ConfigureAwait(false) != native)
        {
            var fraction = Math.Min(0.99, SizeOf(temp) / (double)expected);
            if (fraction > last)
            {
                last = fraction;
                progress.Report(fraction);
            }

            tick = timer.WaitForNextTickAsync().AsTask();
        }

        return _timeProvider.GetElapsedTime(started);
    }

    private static long SizeOf(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.PartialNotDeleted(_logger, path, e);
        }
    }

    private static QuantizeResult Fail(QuantizeError error, string message, QuantizationTypeInfo? info = null) =>
        new() { Error = error, Message = message, Type = info };
}
