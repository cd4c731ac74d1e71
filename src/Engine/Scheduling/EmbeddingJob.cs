namespace InferenceMesh.Engine.Scheduling;

/// <summary>A batch of embedding inputs, already tokenised, waiting for the scheduler thread.</summary>
internal sealed class EmbeddingJob(int[][] inputs, CancellationToken cancellationToken)
{
    public int[][] Inputs { get; } = inputs;
    public CancellationToken CancellationToken { get; } = cancellationToken;
    public TaskCompletionSource<EngineResult<EmbeddingResult>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
