using System.Runtime.CompilerServices;
using System.Threading.Channels;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Errors;

namespace InferenceMesh.Gateway.Inference;

/// <summary>What happens to one choice of a <see cref="CompletionRun"/>, in order: its echo (when asked for), its text, its end.</summary>
internal abstract record CompletionEvent(CompletionJob Job);

/// <summary>The choice's prompt was read: its echoed text goes first, with the prompt's scores when they were asked for.</summary>
internal sealed record CompletionEchoed(CompletionJob Job, PromptLogProbs? Scores) : CompletionEvent(Job);

internal sealed record CompletionText(CompletionJob Job, GenerationDelta Delta) : CompletionEvent(Job);

internal sealed record CompletionFinished(CompletionJob Job, GenerationOutcome Outcome) : CompletionEvent(Job);

/// <summary>The choice failed (the error names its prompt); the run ends here and the other choices are cancelled.</summary>
internal sealed record CompletionFailed(CompletionJob Job, ApiError Error) : CompletionEvent(Job);

/// <summary>
/// Runs the choices of a completions request (or the n choices of a chat request) on the local engine, at most as many at once as the model has slots (a
/// batch takes the slots it can use and queues no more than that, so a large batch is never refused as overload):
/// <see cref="StartAsync"/> starts the first of them, so that a failure to start (a full queue) is still an HTTP error,
/// then <see cref="ReadAllAsync"/> starts the others as slots free and yields every choice's events as they come
/// (interleaved), until all finished or one failed. Disposing cancels whatever still runs and frees its slot.
/// </summary>
internal sealed class CompletionRun(InferenceService inference, ILoadedModel model, IReadOnlyList<CompletionJob> jobs, int concurrency) : IAsyncDisposable
{
    private readonly RunningGeneration?[] _started = new RunningGeneration?[jobs.Count];
    private readonly SemaphoreSlim _gate = new(Math.Max(1, concurrency));
    private readonly CancellationTokenSource _stop = new();
    private Task _running = Task.CompletedTask;

    public string ModelId => model.Id;

    /// <summary>
    /// A run of <paramref name="jobs"/> on <paramref name="model"/> (as many at once as it has slots) with its first choices
    /// started, or the error to answer with before any byte (the choices that did start are freed).
    /// </summary>
    public static async Task<ApiResult<CompletionRun>> StartAsync(
        InferenceService inference, ILoadedModel model, IReadOnlyList<CompletionJob> jobs, CancellationToken cancellationToken)
    {
        var run = new CompletionRun(inference, model, jobs, model.GetStatus().Slots);
        ApiError? startError;
        try
        {
            startError = await run.StartAsync(cancellationToken);
        }
        catch
        {
            await run.DisposeAsync(); // the choices that did start are freed before the error middleware answers
            throw;
        }

        if (startError is not null)
        {
            await run.DisposeAsync();
            return startError;
        }

        return run;
    }

    /// <summary>Starts the first choices (as many as run at once); a failure comes back as the error to answer with, before any byte.</summary>
    private async Task<ApiError?> StartAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < jobs.Count && _gate.Wait(0); i++)
        {
            var started = await inference.StartAsync(model, jobs[i].Request, jobs[i].Prompt.Param, cancellationToken);
            if (started.Error is { } error)
            {
                return error;
            }

            _started[i] = started.Value;
        }

        return null;
    }

    /// <summary>Every choice's events as they come; ends after the last choice finished, or with the first failure.</summary>
    public async IAsyncEnumerable<CompletionEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (jobs.Count == 1)
        {
            // One choice (the common request): its events straight from its generation, with no channel and no task
            // between the engine's tokens and the writer (each hop is a thread woken per token, taken from the cores that
            // decode the next one).
            try
            {
                await foreach (var item in EventsAsync(jobs[0], 0, cancellationToken))
                {
                    yield return item;
                }
            }
            finally
            {
                await _stop.CancelAsync();
            }

            yield break;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var events = Channel.CreateUnbounded<CompletionEvent>(new UnboundedChannelOptions { SingleReader = true });
        _running = Task.WhenAll(jobs.Select((job, i) => RunAsync(job, i, events.Writer, linked.Token)))
            .ContinueWith(all => events.Writer.TryComplete(all.Exception?.InnerException), TaskScheduler.Default);

        try
        {
            await foreach (var item in events.Reader.ReadAllAsync(cancellationToken))
            {
                yield return item;
                if (item is CompletionFailed)
                {
                    yield break;
                }
            }
        }
        finally
        {
            // However the reading ends (all finished, a failure, a reader that stops early), nothing is left running.
            await _stop.CancelAsync();
        }
    }

    /// <summary>One choice of several, its events into the run's channel (the client leaving or another choice failing ends it quietly).</summary>
    private async Task RunAsync(CompletionJob job, int i, ChannelWriter<CompletionEvent> events, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var item in EventsAsync(job, i, cancellationToken))
            {
                events.TryWrite(item);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client left or another choice failed: disposing the generation (EventsAsync's end) freed its slot.
        }
    }

    /// <summary>
    /// One choice's events: started when a slot is free (unless <see cref="StartAsync"/> started it), its echo, its text,
    /// then its finish or its failure; its generation is disposed and its slot given back however the reading ends.
    /// </summary>
    private async IAsyncEnumerable<CompletionEvent> EventsAsync(CompletionJob job, int i, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var admitted = _started[i] is not null; // the first choices hold their place in the gate since StartAsync
        try
        {
            var generation = _started[i];
            if (generation is null)
            {
                await _gate.WaitAsync(cancellationToken);
                admitted = true;
                var started = await inference.StartAsync(model, job.Request, job.Prompt.Param, cancellationToken);
                if (started.Error is { } error)
                {
                    yield return new CompletionFailed(job, error);
                    yield break;
                }

                generation = _started[i] = started.Value!;
            }

            if (job.Echo.Length > 0)
            {
                var scores = job.Request.ScorePrompt ? await generation.PromptLogProbs.WaitAsync(cancellationToken) : null;
                yield return new CompletionEchoed(job, scores);
            }

            await foreach (var delta in generation.ReadAsync(cancellationToken))
            {
                yield return new CompletionText(job, delta);
            }

            var outcome = await generation.CompleteAsync();
            if (outcome.Failure is { } failure)
            {
                if (!(failure.Error == EngineError.Cancelled && cancellationToken.IsCancellationRequested))
                {
                    yield return new CompletionFailed(job, inference.Map(failure, job.Prompt.Param));
                }

                yield break;
            }

            yield return new CompletionFinished(job, outcome);
        }
        finally
        {
            if (_started[i] is { } generation)
            {
                _started[i] = null;
                await generation.DisposeAsync();
            }

            if (admitted)
            {
                _gate.Release();
            }
        }
    }

    /// <summary>Reads every choice to its end (a non-streamed answer): the choices in index order with the usage of all, or the first failure.</summary>
    /// <param name="withLogProbs">Whether the choices' tokens' log probabilities are kept (the request asked for them).</param>
    public async Task<ApiResult<(IReadOnlyList<CollectedChoice> Choices, OpenAi.Usage Usage)>> CollectAsync(bool withLogProbs, CancellationToken cancellationToken)
    {
        var texts = jobs.Select(_ => new System.Text.StringBuilder()).ToArray();
        var logProbs = jobs.Select(_ => withLogProbs ? new List<TokenLogProb>() : null).ToArray();
        var scores = new PromptLogProbs?[jobs.Count];
        var outcomes = new GenerationOutcome?[jobs.Count];
        var usage = new CompletionUsage();
        await foreach (var item in ReadAllAsync(cancellationToken))
        {
            usage.Add(item);
            var i = item.Job.Index;
            switch (item)
            {
                case CompletionFailed failed:
                    return failed.Error;
                case CompletionEchoed echoed:
                    scores[i] = echoed.Scores;
                    break;
                case CompletionText text:
                    texts[i].Append(text.Delta.Text);
                    logProbs[i]?.AddRange(text.Delta.LogProbs ?? []);
                    break;
                case CompletionFinished finished:
                    outcomes[i] = finished.Outcome;
                    break;
            }
        }

        // A reader cancelled by the client ends without every outcome: nobody is left to answer.
        cancellationToken.ThrowIfCancellationRequested();
        return ([.. jobs.Select(job => new CollectedChoice(job, texts[job.Index].ToString(), logProbs[job.Index], scores[job.Index], outcomes[job.Index]!))], usage.ToUsage());
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
        foreach (var generation in _started)
        {
            // Started by StartAsync but never read (a later start failed, or the run was never read): freed here.
            if (generation is not null)
            {
                await generation.DisposeAsync();
            }
        }

        _stop.Dispose();
        _gate.Dispose();
    }
}

/// <summary>One choice read to its end: its text (without its echo), its tokens' log probabilities (when kept), its prompt's scores (echo with logprobs), its outcome.</summary>
internal sealed record CollectedChoice(CompletionJob Job, string Text, IReadOnlyList<TokenLogProb>? LogProbs, PromptLogProbs? PromptScores, GenerationOutcome Outcome)
{
    public string FinishReason => RunningGeneration.FinishReasonText(Outcome.FinishReason);
}

/// <summary>The usage of a completions request: each prompt's tokens once (whatever n), every choice's completion tokens.</summary>
internal sealed class CompletionUsage
{
    private int _prompt;
    private int _completion;

    public void Add(CompletionEvent item)
    {
        if (item is CompletionFinished finished)
        {
            _prompt += finished.Job.CountsPrompt ? finished.Outcome.PromptTokens : 0;
            _completion += finished.Outcome.CompletionTokens;
        }
    }

    public OpenAi.Usage ToUsage() => OpenAi.Usage.Of(_prompt, _completion);
}
