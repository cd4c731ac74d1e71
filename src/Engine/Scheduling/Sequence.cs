using System.Threading.Channels;
using InferenceMesh.Engine.Native;
using InferenceMesh.Engine.Text;

namespace InferenceMesh.Engine.Scheduling;

/// <summary>One generation's state. Owned by the scheduler thread, except the cancel flag and the output channel.</summary>
internal sealed class Sequence
{
    private int _cancelRequested;
    private int _stopRequested;

    public Sequence(long number, GenerationRequest request, int[] promptTokens, SafeLlamaSamplerHandle sampler, AdapterSet? adapters = null)
    {
        Adapters = adapters ?? AdapterSet.Empty;
        Number = number;
        Request = request;
        PromptTokens = promptTokens;
        Sampler = sampler;
        Stops = new StopStringMatcher(request.Stop);
        LogProbs = request.TopLogProbs is null ? null : new LogProbTrail();
        PromptScores = request.ScorePrompt ? [] : null;
    }

    public long Number { get; }
    public GenerationRequest Request { get; }
    public int[] PromptTokens { get; }
    public SafeLlamaSamplerHandle Sampler { get; }

    /// <summary>The LoRA adapters this sequence runs with (one reference on each, given back when it ends).</summary>
    public AdapterSet Adapters { get; }
    public Utf8TokenAssembler Utf8 { get; } = new();
    public StopStringMatcher Stops { get; }

    public Channel<GenerationDelta> Output { get; } = Channel.CreateUnbounded<GenerationDelta>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });

    public TaskCompletionSource<GenerationOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The slot (and llama.cpp sequence id) while active; -1 while queued.</summary>
    public int Slot { get; set; } = -1;

    /// <summary>Prompt tokens already in the KV cache (reused or decoded).</summary>
    public int PrefillPosition { get; set; }

    /// <summary>Tokens of this sequence in the KV cache.</summary>
    public int Past { get; set; }

    /// <summary>The last sampled token, to be decoded in the next step; -1 while prefilling.</summary>
    public int PendingToken { get; set; } = -1;

    public int Generated { get; set; }

    /// <summary>The ids of the tokens generated so far (end-of-generation excluded); read by tests after completion.</summary>
    public List<int> GeneratedTokens { get; } = [];

    public int ReusedPrefix { get; set; }

    /// <summary>Log probabilities of generated tokens not yet sent (null unless the request asked for them).</summary>
    public LogProbTrail? LogProbs { get; }

    /// <summary>The step that chose end-of-generation, when the request asked for it (<see cref="GenerationRequest.EndOfGenerationLogProbs"/>).</summary>
    public TokenLogProb? EndOfGenerationStep { get; set; }

    /// <summary>The prompt tokens scored so far (null unless the request asked for them).</summary>
    public List<TokenLogProb>? PromptScores { get; }

    /// <summary>Completes with the scored prompt once it is read, or with null when the sequence ends before.</summary>
    public TaskCompletionSource<PromptLogProbs?> PromptScored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Sends a text delta with the log probabilities of the tokens it completes (nothing when both are empty).</summary>
    public void Emit(string text, bool final = false)
    {
        var released = LogProbs?.Release(text.Length, final);
        if (text.Length > 0 || released is { Count: > 0 })
        {
            Output.Writer.TryWrite(new GenerationDelta(text, released));
        }
    }

    public bool IsPrefilling => PendingToken < 0;

    public bool CancelRequested => Volatile.Read(ref _cancelRequested) != 0;

    /// <summary>Asks the scheduler to drop this sequence; returns true the first time.</summary>
    public bool RequestCancel() => Interlocked.Exchange(ref _cancelRequested, 1) == 0;

    public bool StopRequested => Volatile.Read(ref _stopRequested) != 0;

    /// <summary>Asks the scheduler to finish this sequence as a stop string would; returns true the first time.</summary>
    public bool RequestStop() => Interlocked.Exchange(ref _stopRequested, 1) == 0;
}
