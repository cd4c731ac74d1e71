using System.Globalization;
using System.Text.RegularExpressions;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Metrics;

/// <summary>Needs the real engine and catalog.</summary>
public sealed partial class MetricsTests
{
    [Fact]
    public async Task Metrics_parse_as_prometheus_text_and_count_requests_without_prompt_text()
    {
        await using var environment = await TestEnvironment.StartAsync();
        await RawCompletions.GreedyAsync(environment.Http, 16, stream: false);
        await RawCompletions.GreedyAsync(environment.Http, 16, stream: true);
        (await environment.Http.GetAsync("/v1/nothing")).Dispose();

        using var response = await environment.Http.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();

        var samples = Parse(text);
        Assert.Equal(2, samples["inference_mesh_http_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"]);
        Assert.Equal(1, samples["inference_mesh_http_requests_total{endpoint=\"unmatched\",status=\"404\"}"]);
        Assert.True(samples["inference_mesh_prompt_tokens_total{model=\"stories260K\"}"] > 0);
        Assert.InRange(samples["inference_mesh_completion_tokens_total{model=\"stories260K\"}"], 2, 32);
        Assert.Equal(2, samples["inference_mesh_time_to_first_token_seconds_count{model=\"stories260K\"}"]);
        Assert.Equal(2, samples["inference_mesh_time_to_first_token_seconds_bucket{model=\"stories260K\",le=\"+Inf\"}"]);
        Assert.True(samples.ContainsKey("inference_mesh_time_per_output_token_seconds_sum{model=\"stories260K\"}"));
        Assert.Equal(0, samples["inference_mesh_active_sequences{model=\"stories260K\"}"]);
        Assert.Equal(0, samples["inference_mesh_queued_sequences{model=\"stories260K\"}"]);
        Assert.InRange(samples["inference_mesh_decode_threads{model=\"stories260K\"}"], 1, Environment.ProcessorCount);
        Assert.True(samples["inference_mesh_decode_thread_switches_total{model=\"stories260K\"}"] >= 0);
        Assert.DoesNotContain(RawCompletions.Prompt, text);
    }

    /// <summary>A strict reader of the text format: comments are HELP/TYPE, every sample is name{labels} value.</summary>
    internal static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                Assert.Matches(CommentLine(), line);
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"Not a Prometheus sample: {line}");
            var value = match.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            Assert.True(samples.TryAdd(match.Groups["series"].Value, value), $"Duplicate series: {line}");
        }

        return samples;
    }

    [GeneratedRegex(@"^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$")]
    private static partial Regex CommentLine();

    [GeneratedRegex(@"^(?<series>[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=""([^""\\\n]|\\[\\""n])*"",?)*\})?) (?<value>[-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN))$")]
    private static partial Regex SampleLine();
}
