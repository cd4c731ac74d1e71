using System.Net;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// The privacy invariant, per detector kind, through the real gateway and the real classifier: a cloud configured
/// like the issue's acceptance block (openai, quality 0.95, sovereignty 0.2, models ["*"], data retention not
/// declared) is the best-scoring backend for public requests, yet a prompt carrying any finding is answered
/// locally and that cloud receives nothing at all — streamed or not, for "auto", for an aliased cloud model name
/// and for an unaliased one, with the privacy header asking for "public", and when the local model fails.
/// </summary>
public sealed class PrivacyProofTests(PrivacyProofTests.Gateway gateway) : IClassFixture<PrivacyProofTests.Gateway>
{
    /// <summary>An aliased cloud model name (policy: gpt-4o-mini → local fake-model) and an unaliased one.</summary>
    private const string AliasedCloudModel = "gpt-4o-mini";
    private const string UnaliasedCloudModel = "gpt-4o";

    // Synthetic values with the right prefix, length, alphabet and checksum (see tests/Classifier.Tests/Detectors).
    private const string Alnum36 = "16C7e42F292c6912E7710c838347Ae178B4a";
    private const string PemBody = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==";

    /// <summary>(what, the sensitive value, the prompt around it, the finding kind /v1/route must show).</summary>
    public static TheoryData<string, string, string, string> Sensitive => new()
    {
        { "email", "alice@example.com", "Please draft a reply to {0} about the offsite.", "Email" },
        { "international phone", "+44 20 7946 0958", "Call the supplier on {0} and summarise the call.", "Phone" },
        { "Luhn-valid card", "4111 1111 1111 1111", "My card is {0}, why was it declined?", "PaymentCard" },
        { "IBAN", "GB82 WEST 1234 5698 7654 32", "Write a payment reminder for account {0}.", "Iban" },
        { "US SSN", "078-05-1120", "Fill in the form for SSN {0} please.", "NationalId" },
        { "UK NI number", "JG103759A", "My National Insurance number is {0}; which tax code applies?", "NationalId" },
        { "IPv4", "192.168.1.10", "Why can't I reach {0} from the office VPN?", "IpAddress" },
        { "IPv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "Configure nginx to listen on {0}.", "IpAddress" },
        { "AWS access key id", "AKIAIOSFODNN7EXAMPLE", "Is {0} still active in our account?", "CloudAccessKey" },
        { "GitHub token", "ghp_" + Alnum36, "Clone the repo with token {0} for me.", "VcsToken" },
        { "GitLab token", "glpat-Abc123Def456Ghi789Jk", "Why does {0} get a 401 from the API?", "VcsToken" },
        { "Slack token", "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "Post to #ops using {0}.", "ApiKey" },
        { "Stripe live key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "Refund the last charge with {0}.", "ApiKey" },
        { "OpenAI-style key", "sk-" + Alnum36 + "0123456789AB", "export OPENAI_API_KEY={0} then run the script", "ApiKey" },
        { "Anthropic key", "sk-ant-api03-" + Alnum36 + Alnum36 + "-Ab1_Cd2AA", "Set the header x-api-key: {0} and retry.", "ApiKey" },
        { "PEM private key", "-----BEGIN RSA PRIVATE KEY-----\n" + PemBody + "\n-----END RSA PRIVATE KEY-----", "What format is this key?\n{0}", "PrivateKey" },
        { "JWT", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "Decode this token: {0}", "Jwt" },
        { "password in a URL", "postgres://app:S3cr3t%21@db.example.com:5432/app", "Why does {0} refuse my connection?", "Password" },
        { "password in a connection string", "Server=db;Database=app;User Id=sa;Password=Hunter2!x;", "Fix this connection string: {0}", "Password" },
        { "marker: confidential", "CONFIDENTIAL", "{0}: summarise the board's quarterly numbers.", "ConfidentialityMarker" },
        { "marker: internal only", "Internal only", "{0} - rewrite the reorg announcement.", "ConfidentialityMarker" },
        { "marker: under NDA", "under NDA", "The partner shared this pricing {0}; compare it with ours.", "ConfidentialityMarker" },
        { "marker: privileged", "PRIVILEGED", "{0}: advice from counsel on the dispute.", "ConfidentialityMarker" },
        { "marker: restricted", "RESTRICTED", "{0} - timeline of the security incident.", "ConfidentialityMarker" },
    };

    [Theory]
    [MemberData(nameof(Sensitive))]
    public async Task A_prompt_with_a_finding_is_answered_locally_and_the_best_scoring_cloud_receives_nothing(
        string what, string value, string template, string kind)
    {
        var harness = gateway.Harness;
        var prompt = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, value);
        harness.Engine.Model.OnStart = HelloWorld;

        // The precondition that makes this a proof: for a public prompt the recording cloud is the first choice.
        var publicPlan = await RouteAsync(RoutingHarness.PublicPrompt);
        Assert.Equal("cloud-a", publicPlan.GetProperty("plan").GetProperty("steps")[0].GetProperty("backend").GetString());

        // The detector fired, and the plan is local only with the cloud left out for privacy.
        var plan = await RouteAsync(prompt);
        Assert.Contains(kind, plan.GetProperty("classification").GetProperty("findings").EnumerateArray().Select(f => f.GetProperty("kind").GetString()));
        Assert.NotEqual("public", plan.GetProperty("privacy").GetProperty("level").GetString());
        Assert.Equal(["local"], plan.GetProperty("plan").GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("backend").GetString()));
        var exclusion = plan.GetProperty("plan").GetProperty("exclusions").EnumerateArray().Single(e => e.GetProperty("backend").GetString() == "cloud-a");
        Assert.Contains(exclusion.GetProperty("code").GetString(), new[] { "PrivacyClass", "DataRetention" });

        foreach (var stream in new[] { false, true })
        {
            foreach (var model in new[] { "auto", AliasedCloudModel })
            {
                foreach (var privacy in new[] { null, "public" })
                {
                    var (response, body) = await harness.SendAsync(RoutingHarness.Chat(prompt, stream, model, privacy));
                    var context = $"{what}, stream {stream}, model {model}, header {privacy ?? "none"}";
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{context}: {body}");
                    Assert.Equal("local", RoutingHarness.BackendOf(response));
                    Assert.NotEqual("public", response.Headers.GetValues("X-InferenceMesh-Privacy").Single()); // lowering refused
                    Assert.Equal("Hello world", stream ? Sse.Text(Sse.ParseStrict(body)) : ContentOf(body));
                }
            }

            // A cloud model name no policy maps to local: nothing allowed can serve it, so nothing is sent anywhere.
            var (refused, refusedBody) = await harness.SendAsync(RoutingHarness.Chat(prompt, stream, UnaliasedCloudModel, "public"));
            await ApiAssert.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable, code: "no_backend_available");
            Assert.Equal("none", RoutingHarness.BackendOf(refused));
            Assert.DoesNotContain(value, refusedBody);
        }

        // The local model failing never opens a path to the cloud: a clear error, from local.
        var failures = new (EngineFailure Failure, HttpStatusCode Status, string Code)[]
        {
            (new EngineFailure(EngineError.Overloaded, "busy"), HttpStatusCode.ServiceUnavailable, "overloaded"),
            (new EngineFailure(EngineError.PromptTooLong, "needs 9000 tokens", Limit: 64), HttpStatusCode.BadRequest, "context_length_exceeded"),
        };
        foreach (var (failure, status, code) in failures)
        {
            harness.Engine.Model.OnStart = _ => EngineResult<IGeneration>.Fail(failure);
            foreach (var stream in new[] { false, true })
            {
                foreach (var privacy in new[] { null, "public" })
                {
                    var (failed, failedBody) = await harness.SendAsync(RoutingHarness.Chat(prompt, stream, "auto", privacy));
                    await ApiAssert.ErrorAsync(failed, status, code: code);
                    Assert.Equal("local", RoutingHarness.BackendOf(failed));
                    Assert.DoesNotContain(value, failedBody);
                }
            }
        }

        harness.Engine.Model.OnStart = HelloWorld;
        Assert.Empty(gateway.Cloud.Requests); // not a chat, not a probe, not a byte
        Assert.DoesNotContain(value, harness.Logs.All);
    }

    /// <summary>The scripted engine's default generation ("Hello" + " world").</summary>
    private static EngineResult<IGeneration> HelloWorld(GenerationRequest request) =>
        EngineResult<IGeneration>.Ok(new FakeGeneration(["Hello", " world"], new GenerationOutcome(FinishReason.Stop, 3, 2)));

    private async Task<JsonElement> RouteAsync(string prompt)
    {
        var json = JsonSerializer.Serialize(new { model = "auto", messages = new[] { new { role = "user", content = prompt } } });
        using var response = await gateway.Harness.Http.PostAsync("/v1/route", ApiAssert.Json(json));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    private static string? ContentOf(string body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
    }

    /// <summary>One gateway for the theory (cases run one after another): the recording cloud and the alias policy.</summary>
    public sealed class Gateway : IAsyncLifetime
    {
        internal RecordingUpstream Cloud { get; private set; } = null!;

        internal RoutingHarness Harness { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Cloud = await RecordingUpstream.StartAsync();
            Harness = new RoutingHarness
            {
                PoliciesDirectory = RoutingHarness.DefaultPolicyWithAliases($"{{ {AliasedCloudModel}: {{ local: {FakeEngine.ModelId} }} }}"),
            };
            Harness.Clouds.Add(("cloud-a", Cloud, 0.95, "sk-cloud-a-test"));
            await Harness.StartAsync();
        }

        public async Task DisposeAsync()
        {
            await Harness.DisposeAsync();
            await Cloud.DisposeAsync();
        }
    }
}
