using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// Routes llama.cpp and ggml log output (installed with <c>llama_log_set</c>, which also sets ggml's)
/// to an <see cref="ILogger"/>, so nothing goes to stderr. Native code logs in fragments: a message may
/// arrive in pieces, later pieces with level CONT, so text is buffered per thread until a newline.
/// Levels: DEBUG → Trace, INFO → Debug (llama.cpp is chatty), WARN → Warning, ERROR → Error, NONE → Debug.
/// </summary>
internal static unsafe class LlamaLogBridge
{
    private static readonly Lock Gate = new();
    private static ILogger? s_logger;
    private static ILogger[] s_listeners = [];

    [ThreadStatic]
    private static StringBuilder? t_pending;

    [ThreadStatic]
    private static GgmlLogLevel t_pendingLevel;

    /// <summary>The native callback to pass to <c>llama_log_set</c>.</summary>
    public static delegate* unmanaged[Cdecl]<GgmlLogLevel, byte*, void*, void> Callback => &OnNativeLog;

    /// <summary>Sets the logger that receives native log lines (the one given to the first successful Initialize).</summary>
    public static void Attach(ILogger logger) => Volatile.Write(ref s_logger, logger);

    /// <summary>
    /// Adds an extra receiver of native log lines until the result is disposed (for tests and diagnostics:
    /// the process-wide callback can only have one primary logger).
    /// </summary>
    public static IDisposable AddListener(ILogger listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (Gate)
        {
            s_listeners = [.. s_listeners, listener];
        }

        return new Subscription(listener);
    }

    /// <summary>True when llama.cpp's current log callback is ours (llama_log_get), i.e. nothing goes to stderr.</summary>
    public static bool IsInstalled()
    {
        delegate* unmanaged[Cdecl]<GgmlLogLevel, byte*, void*, void> installed;
        void* userData;
        LlamaNative.llama_log_get(&installed, &userData);
        return (IntPtr)installed == (IntPtr)Callback;
    }

    public static LogLevel Map(GgmlLogLevel level) => level switch
    {
        GgmlLogLevel.Debug => LogLevel.Trace,
        GgmlLogLevel.Info => LogLevel.Debug,
        GgmlLogLevel.Warn => LogLevel.Warning,
        GgmlLogLevel.Error => LogLevel.Error,
        _ => LogLevel.Debug,
    };

    /// <summary>Feeds one native fragment through the line buffer (the callback's logic, callable from tests).</summary>
    internal static void Append(GgmlLogLevel level, ReadOnlySpan<byte> utf8)
    {
        if (Drop(level))
        {
            return;
        }

        var pending = t_pending ??= new StringBuilder();
        if (level == GgmlLogLevel.Cont)
        {
            level = t_pendingLevel;
        }
        else if (pending.Length > 0)
        {
            // A new message began before the previous one ended with a newline: emit what we have.
            Emit(t_pendingLevel, pending.ToString());
            pending.Clear();
        }

        t_pendingLevel = level;
        pending.Append(Encoding.UTF8.GetString(utf8));

        var start = 0;
        for (var i = 0; i < pending.Length; i++)
        {
            if (pending[i] == '\n')
            {
                Emit(level, pending.ToString(start, i - start));
                start = i + 1;
            }
        }

        pending.Remove(0, start);
    }

    /// <summary>
    /// True, remembering the level for CONT fragments, when nothing is buffered and nobody listens at the
    /// fragment's level (llama.cpp's INFO lines at the default level): it is dropped without being decoded. A
    /// quantisation logs a few lines per tensor; decoding each one made that path hot enough for the JIT to
    /// compile it again (about 50 methods) while the quantiser's threads needed the cores.
    /// </summary>
    private static bool Drop(GgmlLogLevel level)
    {
        var effective = level == GgmlLogLevel.Cont ? t_pendingLevel : level;
        if (t_pending is { Length: > 0 } || IsWanted(Map(effective)))
        {
            return false;
        }

        t_pendingLevel = effective;
        return true;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnNativeLog(GgmlLogLevel level, byte* text, void* userData)
    {
        // Never let an exception cross into native code.
        try
        {
            if (text is not null && !Drop(level))
            {
                Append(level, MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text));
            }
        }
        catch
        {
            // Logging must not break inference.
        }
    }

    private static bool IsWanted(LogLevel mapped)
    {
        if (Volatile.Read(ref s_logger) is { } logger && logger.IsEnabled(mapped))
        {
            return true;
        }

        foreach (var listener in Volatile.Read(ref s_listeners))
        {
            if (listener.IsEnabled(mapped))
            {
                return true;
            }
        }

        return false;
    }

    private static void Emit(GgmlLogLevel level, string line)
    {
        line = line.TrimEnd('\r');
        if (line.Length == 0)
        {
            return;
        }

        var mapped = Map(level);
        if (Volatile.Read(ref s_logger) is { } logger && logger.IsEnabled(mapped))
        {
            LlamaLibrary.WriteNativeMessage(logger, mapped, line);
        }

        foreach (var listener in Volatile.Read(ref s_listeners))
        {
            if (listener.IsEnabled(mapped))
            {
                LlamaLibrary.WriteNativeMessage(listener, mapped, line);
            }
        }
    }

    private sealed class Subscription(ILogger listener) : IDisposable
    {
        private ILogger? _listener = listener;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _listener, null) is { } removed)
            {
                lock (Gate)
                {
                    s_listeners = Array.FindAll(s_listeners, l => !ReferenceEquals(l, removed));
                }
            }
        }
    }
}
