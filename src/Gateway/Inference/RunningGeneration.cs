using System.Runtime.CompilerServices;
using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Metrics;

namespace InferenceMesh.Gateway.Inference;

/// <summary>
/// An <see cref="IGeneration"/> with its metrics. Read it once (streamed or collected), then dispose:
/// disposing before the end abandons the sequence, which frees its slot.
/// </summary>
internal sealed class RunningGeneration(IGeneration generation, GenerationMeter meter, string modelId) : IAsyncDisposable
{
    public string ModelId => modelId;

    public int PromptTokens => generation.PromptTokens;

    /// <summary>The scored prompt (when the request asked for it) once the prompt is read.</summary>
    public Task<PromptLogProbs?> PromptLogProbs => generation.PromptLogProbs;

    /// <summary>The deltas (with log probabilities when asked for); cancelling the token removes the sequence from the batch.</summary>
    public async IAsyncEnumerable<GenerationDelta> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var delta in generation.ReadAsync(cancellationToken).WithCancellation(cancellationToken))
        {
            meter.OnText();
            yield return delta;
        }
    }

    /// <summary>Waits for the end of the sequence (after the text was read) and records its tokens.</summary>
    public async Task<GenerationOutcome> CompleteAsync()
    {
        var outcome = await generation.Completion;
        meter.Complete(outcome);
        return outcome;
    }

    /// <summary>Ends the generation before its next token, as a stop string would (<see cref="IGeneration.RequestStop"/>).</summary>
    public void RequestStop() => generation.RequestStop();

    /// <summary>
    /// Reads everything (non-streamed responses); the log probabilities are null unless the request asked for them.
    /// <paramref name="answerEnded"/>, when given, sees each piece of text and returns true once the answer ended in it
    /// (the generation is then stopped).
    /// </summary>
    public async Task<(string Text, IReadOnlyList<TokenLogProb>? LogProbs, GenerationOutcome Outcome)> CollectAsync(
        CancellationToken cancellationToken, Func<string, bool>? answerEnded = null)
    {
        var text = new StringBuilder();
        List<TokenLogProb>? logProbs = null;
        var ended = false;
        await foreach (var delta in ReadAsync(cancellationToken))
        {
            text.Append(delta.Text);
            if (!ended && answerEnded is not null && answerEnded(delta.Text))
            {
                ended = true;
                RequestStop();
            }

            if (delta.LogProbs is { } entries)
            {
                (logProbs ??= []).AddRange(entries);
            }
        }

        return (text.ToString(), logProbs, await CompleteAsync());
    }

    public ValueTask DisposeAsync()
    {
        // Completes nothing when the outcome was recorded; otherwise the client left or a failure cut the read.
        meter.Abandon();
        return generation.DisposeAsync();
    }

    public static string FinishReasonText(FinishReason reason) => reason == FinishReason.Length ? "length" : "stop";
}
