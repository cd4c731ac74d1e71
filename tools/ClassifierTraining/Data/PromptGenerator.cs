using System.Globalization;
using System.Text;
using InferenceMesh.Classifier;
using static InferenceMesh.ClassifierTraining.Data.Vocabulary;

namespace InferenceMesh.ClassifierTraining.Data;

/// <summary>A synthetic prompt with its three labels and the templates it came from.</summary>
internal sealed record LabelledPrompt(string Text, PrivacyLevel Privacy, TaskType Task, Complexity Complexity, string Template);

/// <summary>
/// Seeded, deterministic generator of labelled prompts. A prompt is a task frame (how the user asks:
/// "Summarise the following…") filled with content from a privacy level (what it is about: public
/// facts, internal tickets, customer contracts, credentials…), sized and constrained by a target
/// complexity. Privacy comes from the content, task from the frame, complexity from the amount of
/// material and the number of steps and constraints.
/// </summary>
/// <remarks>
/// Every pool (frames per task, content variants per privacy level) keeps its last quarter of entries
/// out of the main data. <see cref="Generate"/> with <c>heldOutTemplates: true</c> draws only from those
/// held-out entries: a harder test of templates the model has never seen.
/// </remarks>
internal sealed class PromptGenerator
{
    /// <summary>Bump on any change to the templates or vocabularies.</summary>
    public const string DatasetVersion = "synthetic-v1";

    private readonly Random _random;
    private readonly bool _heldOut;

    private PromptGenerator(int seed, bool heldOut)
    {
        _random = new Random(seed);
        _heldOut = heldOut;
    }

    /// <summary>Generates <paramref name="count"/> prompts, balanced over privacy × task and complexity.</summary>
    public static IReadOnlyList<LabelledPrompt> Generate(int seed, int count, bool heldOutTemplates)
    {
        var generator = new PromptGenerator(seed, heldOutTemplates);
        var privacyLevels = Enum.GetValues<PrivacyLevel>();
        var tasks = Enum.GetValues<TaskType>();
        var complexities = Enum.GetValues<Complexity>();
        var prompts = new List<LabelledPrompt>(count);
        for (var i = 0; i < count; i++)
        {
            var privacy = privacyLevels[i % privacyLevels.Length];
            var task = tasks[(i / privacyLevels.Length) % tasks.Length];
            var complexity = complexities[generator._random.Next(complexities.Length)];
            prompts.Add(generator.Make(privacy, task, complexity));
        }

        return prompts;
    }

    private LabelledPrompt Make(PrivacyLevel privacy, TaskType task, Complexity complexity)
    {
        var content = Content.For(privacy);
        var ids = new List<string>();
        var ctx = new Ctx(this, content, complexity, ids);
        var (frameId, frame) = Pick(Frames[task]);
        ids.Insert(0, frameId);
        var core = frame(ctx);
        var text = Finish(core, task, complexity, ctx);
        return new LabelledPrompt(text, privacy, task, complexity, string.Join('+', ids));
    }

    // ---- complexity ------------------------------------------------------------------------------

    private string Finish(string core, TaskType task, Complexity complexity, Ctx ctx)
    {
        var constraints = Constraints[task];
        switch (complexity)
        {
            case Complexity.Low:
                return core;
            case Complexity.Medium:
            {
                var picked = Distinct(constraints, _random.Next(1, 3));
                return _random.Next(2) == 0
                    ? core + "\n\n" + string.Join(' ', picked)
                    : core + "\n\n" + string.Join('\n', picked.Select(c => "- " + c));
            }
            default:
            {
                var picked = Distinct(constraints, _random.Next(3, 6));
                var sb = new StringBuilder();
                if (_random.Next(2) == 0)
                {
                    sb.Append("Context: ").Append(ctx.Document(2, 3)).Append("\n\n");
                }

                sb.Append(core).Append("\n\n");
                if (_random.Next(3) == 0)
                {
                    sb.Append("Do this in stages: first, ").Append(Lower(picked[0]));
                    for (var i = 1; i < picked.Length - 1; i++)
                    {
                        sb.Append(" Then, ").Append(Lower(picked[i]));
                    }

                    sb.Append(" Finally, ").Append(Lower(picked[^1]));
                }
                else
                {
                    sb.Append(Pick(["Requirements:", "Constraints:", "Please make sure to:", "Steps:"])).Append('\n');
                    for (var i = 0; i < picked.Length; i++)
                    {
                        sb.Append(i + 1).Append(". ").Append(picked[i]).Append('\n');
                    }
                }

                return sb.ToString().TrimEnd();
            }
        }
    }

    private static string Lower(string s) => char.ToLowerInvariant(s[0]) + s[1..];

    private static readonly string[] CommonConstraints =
    [
        "Keep it under 150 words.", "Use British spelling.", "Format the answer as a markdown table.",
        "Explain your reasoning briefly.", "Answer in plain language for a non-expert.", "Use a neutral, professional tone.",
        "Cite the part of the text each point comes from.", "Avoid jargon.", "Return the result as JSON.",
        "Double-check any numbers.", "Flag anything that seems inconsistent.", "Keep the original formatting.",
    ];

    private static readonly Dictionary<TaskType, string[]> Constraints = new()
    {
        [TaskType.Chat] = [.. CommonConstraints, "Give me two options and the trade-offs.", "Ask me a clarifying question if needed.", "Suggest next steps."],
        [TaskType.Code] =
        [
            "Handle the empty-input edge case.", "Make it O(n log n) or better.", "Don't use external libraries.",
            "Add docstrings or XML comments.", "Include unit tests.", "Keep it thread-safe.", "Log errors instead of swallowing them.",
            "Target the latest language version.", "Keep backwards compatibility with the existing API.", "Add input validation.",
        ],
        [TaskType.Summarise] = [.. CommonConstraints, "Use at most five bullet points.", "Lead with the most important decision.", "Mention any deadlines."],
        [TaskType.Extract] = [.. CommonConstraints, "Normalise dates to ISO 8601.", "Deduplicate entries.", "Leave a field null when it is missing."],
        [TaskType.Translate] = ["Keep the register formal.", "Preserve names and numbers as they are.", "Add a glossary of tricky terms.", "Keep the line breaks.", "Use the regional variant spoken in the capital.", "Note any idioms you had to adapt."],
        [TaskType.Reasoning] = ["Show every step.", "State your assumptions.", "Check the answer by working backwards.", "Give the final answer on its own line.", "Consider at least one alternative interpretation.", "Round to two decimal places."],
        [TaskType.Creative] = ["Make it rhyme.", "Keep it under twelve lines.", "Use a hopeful tone.", "Include a twist at the end.", "Write it in the second person.", "Avoid clichés.", "Make it suitable for children."],
    };

    // ---- task frames -----------------------------------------------------------------------------

    private delegate string Frame(Ctx c);

    private static readonly Dictionary<TaskType, (string Id, Frame Make)[]> Frames = new()
    {
        [TaskType.Chat] =
        [
            ("chat.explain", c => $"Can you explain {c.Subject()}?"),
            ("chat.question", c => $"I have a question about {c.Subject()}. What should I know?"),
            ("chat.take", c => $"What's your take on {c.Subject()}?"),
            ("chat.quick", c => $"hey, quick one: any thoughts on {c.Subject()}?"),
            ("chat.help", c => $"Help me understand {c.Subject()}, please."),
            ("chat.confused", c => $"I'm a bit confused about {c.Subject()}. Can we talk it through?"),
            ("chat.watch", c => $"Is there anything I should watch out for regarding {c.Subject()}?"),
        ],
        [TaskType.Code] =
        [
            ("code.fix", c => $"Fix the bug in this {c.Pick(ProgrammingLanguages)} code:\n```\n{c.Code()}\n```"),
            ("code.write", c => $"Write a {c.Pick(ProgrammingLanguages)} function that {c.Spec()}."),
            ("code.review", c => $"Review this code and suggest improvements:\n\n{c.Code()}"),
            ("code.why", c => $"Why does this code throw {c.Pick(Exceptions)}?\n\n{c.Code()}"),
            ("code.refactor", c => $"Refactor the following snippet to be more idiomatic:\n```\n{c.Code()}\n```"),
            ("code.tests", c => $"Add unit tests for this:\n```\n{c.Code()}\n```"),
            ("code.implement", c => $"Implement something that {c.Spec()} in {c.Pick(ProgrammingLanguages)}, with error handling."),
        ],
        [TaskType.Summarise] =
        [
            ("sum.following", c => $"Summarise the following:\n\n{c.Document()}"),
            ("sum.tldr", c => $"TL;DR:\n{c.Document()}"),
            ("sum.keypoints", c => $"Give me the key points of this {c.Pick(DocKinds)}:\n{c.Document()}"),
            ("sum.condense", c => $"Can you condense these notes into a short paragraph?\n\n{c.Document()}"),
            ("sum.exec", c => $"Write a one-paragraph executive summary of the text below.\n{c.Document()}"),
            ("sum.bullets", c => $"Boil this down to three bullet points:\n{c.Document()}"),
            ("sum.gist", c => $"What's the gist of this? {c.Document()}"),
        ],
        [TaskType.Extract] =
        [
            ("ext.json", c => $"Extract all names, dates and amounts from the text below as JSON.\n\n{c.Document()}"),
            ("ext.list", c => $"List every one of the {c.Pick(Entities)} mentioned in the following:\n{c.Document()}"),
            ("ext.table", c => $"From this {c.Pick(DocKinds)}, pull out the {c.Pick(Entities)} into a table with columns name and value.\n{c.Document()}"),
            ("ext.parse", c => $"Parse the text and return a JSON array of {c.Pick(Entities)}:\n{c.Document()}"),
            ("ext.find", c => $"Find the {c.Pick(Entities)} in this passage and list them one per line:\n{c.Document()}"),
            ("ext.csv", c => $"Identify each of the {c.Pick(Entities)} in the message below; output CSV.\n{c.Document()}"),
        ],
        [TaskType.Translate] =
        [
            ("tr.into", c => $"Translate into {c.Pick(Languages)}:\n\n{c.Document(1, 3)}"),
            ("tr.say", c => $"How would you say this in {c.Pick(Languages)}? \"{c.Document(1, 2)}\""),
            ("tr.formal", c => $"Please translate the following {c.Pick(DocKinds)} to {c.Pick(Languages)}, keeping a formal tone:\n{c.Document(1, 3)}"),
            ("tr.abroad", c => $"Render this in {c.Pick(Languages)} for our colleagues abroad:\n{c.Document(1, 3)}"),
            ("tr.short", c => $"{c.Pick(Languages)} translation please: {c.Document(1, 2)}"),
            ("tr.preserve", c => $"Can you put this into {c.Pick(Languages)}, preserving the formatting?\n{c.Document(1, 3)}"),
        ],
        [TaskType.Reasoning] =
        [
            ("rea.plain", c => c.Problem()),
            ("rea.steps", c => $"Think step by step: {c.Problem()}"),
            ("rea.show", c => $"Solve this and show your reasoning. {c.Problem()}"),
            ("rea.logic", c => $"Work out the answer logically: {c.Problem()}"),
            ("rea.puzzle", c => $"Here's a puzzle for you. {c.Problem()} Explain how you got there."),
            ("rea.careful", c => $"Reason carefully before answering: {c.Problem()}"),
        ],
        [TaskType.Creative] =
        [
            ("cre.poem", c => $"Write a short poem about {c.Subject()}."),
            ("cre.story", c => $"Write a short story involving {c.Subject()}."),
            ("cre.limerick", c => $"Compose a limerick about {c.Subject()}."),
            ("cre.announce", c => $"Draft a playful announcement about {c.Subject()}."),
            ("cre.haiku", c => $"Write a haiku inspired by {c.Subject()}."),
            ("cre.bedtime", c => $"Invent a bedtime story featuring {c.Subject()}."),
        ],
    };

    // ---- sampling --------------------------------------------------------------------------------

    /// <summary>Picks from the main three quarters of a pool, or from its held-out last quarter.</summary>
    private (string Id, T Make) Pick<T>((string Id, T Make)[] pool)
    {
        var heldOut = Math.Max(1, pool.Length / 4);
        return _heldOut
            ? pool[pool.Length - heldOut + _random.Next(heldOut)]
            : pool[_random.Next(pool.Length - heldOut)];
    }

    private string Pick(string[] words) => words[_random.Next(words.Length)];

    private string[] Distinct(string[] words, int count)
    {
        var copy = words.ToArray();
        _random.Shuffle(copy);
        return copy[..Math.Min(count, copy.Length)];
    }

    /// <summary>What a frame can ask for, all drawn from one privacy level's content.</summary>
    private sealed class Ctx(PromptGenerator generator, Content content, Complexity complexity, List<string> ids)
    {
        public Random Random => generator._random;

        public string Pick(string[] words) => generator.Pick(words);

        public string Subject() => Draw(content.Subjects);

        public string Code()
        {
            var code = Draw(content.Code);
            return complexity == Complexity.High ? code + "\n\n" + Draw(content.Code) : code;
        }

        public string Spec() => Draw(content.Specs);

        public string Problem() => Draw(content.Problems);

        /// <summary>A paragraph whose length follows the target complexity.</summary>
        public string Document() => complexity switch
        {
            Complexity.Low => Document(1, 2),
            Complexity.Medium => Document(3, 5),
            _ => Document(6, 10),
        };

        public string Document(int min, int max)
        {
            var count = Random.Next(min, max + 1);
            var sentences = new string[count];
            for (var i = 0; i < count; i++)
            {
                sentences[i] = Draw(content.Sentences);
            }

            return string.Join(Random.Next(3) == 0 ? "\n" : " ", sentences);
        }

        private string Draw((string Id, Func<G, string> Make)[] pool)
        {
            var (id, make) = generator.Pick(pool);
            if (!ids.Contains(id))
            {
                ids.Add(id);
            }

            return make(new G(Random));
        }
    }

    // ---- content per privacy level ---------------------------------------------------------------

    private sealed record Content(
        (string Id, Func<G, string> Make)[] Subjects,
        (string Id, Func<G, string> Make)[] Sentences,
        (string Id, Func<G, string> Make)[] Code,
        (string Id, Func<G, string> Make)[] Specs,
        (string Id, Func<G, string> Make)[] Problems)
    {
        public static Content For(PrivacyLevel level) => level switch
        {
            PrivacyLevel.Public => PublicContent.Instance,
            PrivacyLevel.Internal => InternalContent.Instance,
            PrivacyLevel.Confidential => ConfidentialContent.Instance,
            _ => RestrictedContent.Instance,
        };
    }

    /// <summary>Slot fillers: names, numbers, hosts, secrets.</summary>
    private sealed class G(Random random)
    {
        public string P(string[] words) => words[random.Next(words.Length)];

        public int N(int min, int max) => random.Next(min, max + 1);

        public string Name() => $"{P(FirstNames)} {P(LastNames)}";

        public string First() => P(FirstNames);

        public string Company() => P(Companies);

        public string City() => P(Cities);

        public string Codename() => P(Codenames);

        public string Team() => P(Teams);

        public string Service() => P(Services);

        public string Ticket() => $"{P(TicketPrefixes)}-{N(100, 9999)}";

        public string Host() => random.Next(3) switch
        {
            0 => $"{Service()}.{P(Environments)}.corp.{P(CompanySlugs)}.internal",
            1 => $"{P(["build", "ci", "db", "k8s-node", "jump"])}-{N(1, 40):00}.{P(CompanySlugs)}.lan",
            _ => $"{P(["grafana", "jenkins", "vault-ui", "kibana", "argocd"])}.int.{P(CompanySlugs)}.net",
        };

        public string WikiUrl() =>
            $"https://{P(["wiki", "confluence", "docs"])}.{P(CompanySlugs)}.internal/{P(["display", "spaces", "pages"])}/{P(TicketPrefixes)}/{P(Codenames)}-{P(["Roadmap", "Runbook", "Design", "Retro", "Onboarding"])}";

        public string Money(int min, int max) => "$" + N(min, max).ToString("N0", CultureInfo.InvariantCulture);

        public string Date() => $"{N(1, 28)} {P(Months)} {N(2019, 2026)}";

        public string IsoDate() => $"{N(1950, 2005)}-{N(1, 12):00}-{N(1, 28):00}";

        public string Quarter() => $"Q{N(1, 4)}";

        private string Chars(string alphabet, int count)
        {
            var chars = new char[count];
            for (var i = 0; i < count; i++)
            {
                chars[i] = alphabet[random.Next(alphabet.Length)];
            }

            return new string(chars);
        }

        private const string Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        private const string Alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        private const string B64 = Alnum + "+/";

        public string AwsKeyId() => "AKIA" + Chars(Upper, 16);

        public string AwsSecret() => Chars(B64, 40);

        public string GitHubToken() => "ghp_" + Chars(Alnum, 36);

        public string SlackToken() => $"xoxb-{N(100000000, 999999999)}-{Chars(Alnum, 24)}";

        public string ApiKey() => P(["sk-live-", "sk_live_", "api_", "key-"]) + Chars(Alnum, 32);

        public string Password() => random.Next(2) == 0
            ? $"{P(["Summer", "Winter", "Dragon", "Monkey", "Passw0rd", "Welcome", "Admin"])}{N(10, 2026)}{P(["!", "#", "$", "?", "*"])}"
            : Chars(Alnum + "!@#$%^&*", N(10, 18));

        public string Jwt() => "eyJhbGciOiJIUzI1NiJ9." + Chars(Alnum, 40) + "." + Chars(Alnum + "-_", 43);

        public string PrivateKey() =>
            $"-----BEGIN {P(["RSA ", "OPENSSH ", "EC ", ""])}PRIVATE KEY-----\n{Chars(B64, 64)}\n{Chars(B64, 64)}\n{Chars(B64, 24)}=\n-----END PRIVATE KEY-----";

        public string Ssn() => $"{N(100, 899)}-{N(10, 99)}-{N(1000, 9999)}";

        public string Mrn() => $"MRN {N(1000000, 99999999)}";

        public string Card() => $"4{N(100, 999)} {N(1000, 9999)} {N(1000, 9999)} {N(1000, 9999)}";

        public string Iban() => $"DE{N(10, 99)} {N(1000, 9999)} {N(1000, 9999)} {N(1000, 9999)} {N(1000, 9999)} {N(10, 99)}";

        public string Passport() => $"{P(["P", "X", "K"])}{N(1000000, 9999999)}";

        public string ClassificationMarking() =>
            P(["TOP SECRET//NOFORN", "SECRET//REL TO USA, GBR", "TOP SECRET//SI//ORCON", "SECRET//NOFORN", "CONFIDENTIAL//NOFORN"]);
    }

    private static (string, Func<G, string>) V(string id, Func<G, string> make) => (id, make);

    private static class PublicContent
    {
        public static readonly Content Instance = new(
            Subjects:
            [
                V("pub.subj.topic", g => g.P(PublicTopics)),
                V("pub.subj.howto", g => "how to " + g.P(HowTos)),
                V("pub.subj.hardneg", g => g.P(HardNegativeSubjects)),
                V("pub.subj.city", g => $"a weekend trip to {g.City()}"),
                V("pub.subj.fiction", g => $"{g.P(FictionCharacters)} who {g.P(FictionPlots)}"),
                V("pub.subj.compare", g => $"the difference between {g.P(PublicTopics)} and {g.P(PublicTopics)}"),
                V("pub.subj.history", g => $"why {g.P(PublicTopics)} mattered so much historically"),
                V("pub.subj.kid", g => $"explaining {g.P(PublicTopics)} to a ten-year-old"),
            ],
            Sentences:
            [
                V("pub.sent.news", g => $"{g.City()} opened a new {g.P(["library", "tram line", "public pool", "bike lane", "concert hall"])} on {g.P(Weekdays)}, according to local officials."),
                V("pub.sent.science", g => $"Researchers found that {g.P(PublicTopics)} is more closely linked to {g.P(PublicTopics)} than previously thought."),
                V("pub.sent.recipe", g => $"Mix {g.N(2, 5)} cups of flour with {g.N(1, 3)} eggs and bake for {g.N(20, 45)} minutes at {g.N(160, 220)} degrees."),
                V("pub.sent.travel", g => $"The old town of {g.City()} is best explored on foot, and the {g.P(["museum", "market", "cathedral", "harbour"])} is free on Sundays."),
                V("pub.sent.review", g => $"This {g.P(["blender", "novel", "hiking boot", "laptop", "board game"])} is {g.P(["excellent", "decent", "overpriced", "surprisingly good"])}, and I'd give it {g.N(2, 5)} stars."),
                V("pub.sent.fiction", g => $"The detective guarded the confidential dossier as if her life depended on it, while {g.First()} searched for the secret passage."),
                V("pub.sent.howto", g => $"To change your password, open Settings, choose Security and follow the prompts; a password manager makes this easier."),
                V("pub.sent.fact", g => $"{g.P(PublicTopics)[..1].ToUpperInvariant()}{g.P(PublicTopics)[1..]} has fascinated people for centuries, and there are many good books about it."),
                V("pub.sent.sport", g => $"{g.City()} won the match {g.N(1, 5)}-{g.N(0, 4)} after a late goal by {g.Name()}."),
                V("pub.sent.weather", g => $"Forecasters expect {g.P(["heavy rain", "a heatwave", "snow", "strong winds"])} in {g.City()} this {g.P(Weekdays)}."),
                V("pub.sent.event", g => $"The annual {g.P(["book fair", "jazz festival", "marathon", "food market"])} in {g.City()} drew over {g.N(2, 90)},000 visitors."),
                V("pub.sent.patient", g => $"Gardening teaches you to be patient: seeds planted in {g.P(Months)} may not sprout for weeks."),
            ],
            Code:
            [
                V("pub.code.fib", _ => "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])"),
                V("pub.code.csv", _ => "import csv\n\ntotal = 0\nwith open('data.csv') as f:\n    for row in csv.reader(f):\n        total += float(row[1])\nprint(total)"),
                V("pub.code.bsearch", _ => "int BinarySearch(int[] a, int key)\n{\n    int lo = 0, hi = a.Length;\n    while (lo < hi)\n    {\n        int mid = (lo + hi) / 2;\n        if (a[mid] < key) lo = mid + 1; else hi = mid;\n    }\n    return lo;\n}"),
                V("pub.code.js", g => $"const items = [{g.N(1, 9)}, {g.N(1, 9)}, {g.N(1, 9)}];\nconst doubled = items.map(x => x * 2);\ndocument.getElementById('out').textContent = doubled.join(', ');"),
                V("pub.code.sql", g => $"SELECT name, price\nFROM products\nWHERE price > {g.N(5, 100)}\nORDER BY price DESC\nLIMIT {g.N(5, 50)};"),
                V("pub.code.hasher", _ => "public sealed class AccountService\n{\n    private readonly IPasswordHasher _hasher;\n    public AccountService(IPasswordHasher hasher) => _hasher = hasher;\n    public bool Verify(string password, string hash) => _hasher.Verify(password, hash);\n}"),
                V("pub.code.go", _ => "func reverse(s []int) {\n\tfor i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {\n\t\ts[i], s[j] = s[j], s[i]\n\t}\n}"),
                V("pub.code.bcrypt", _ => "import bcrypt\n\ndef hash_password(password: str) -> bytes:\n    return bcrypt.hashpw(password.encode(), bcrypt.gensalt())"),
                V("pub.code.rust", _ => "fn word_count(text: &str) -> usize {\n    text.split_whitespace().count()\n}"),
                V("pub.code.env", _ => "import os\n\napi_key = os.environ['WEATHER_API_KEY']  # never hard-code keys\nprint(len(api_key) > 0)"),
            ],
            Specs:
            [
                V("pub.spec.list", _ => "reverses a linked list in place"),
                V("pub.spec.csv", g => $"parses a CSV file and sums column {g.N(1, 5)}"),
                V("pub.spec.email", _ => "validates an email address with a regular expression"),
                V("pub.spec.prime", _ => "returns all prime numbers below n using a sieve"),
                V("pub.spec.palin", _ => "checks whether a string is a palindrome, ignoring punctuation"),
                V("pub.spec.pw", _ => "checks that a password chosen by a user is at least 12 characters and not on a common-password list"),
                V("pub.spec.dedupe", _ => "removes duplicates from a list while keeping the order"),
                V("pub.spec.temp", _ => "converts temperatures between Celsius and Fahrenheit"),
                V("pub.spec.lru", g => $"implements an LRU cache with capacity {g.N(10, 1000)}"),
            ],
            Problems:
            [
                V("pub.prob.train", g => $"A train leaves {g.City()} at {g.N(6, 11)}:00 travelling at {g.N(60, 140)} km/h, and another leaves {g.City()} an hour later at {g.N(80, 160)} km/h on the same line. When does the second catch up?"),
                V("pub.prob.ages", g => $"{g.First()} is {g.N(2, 9)} years older than {g.First()}. In {g.N(2, 10)} years their ages will add up to {g.N(40, 90)}. How old are they now?"),
                V("pub.prob.shop", g => $"Pencils cost {g.N(15, 90)} cents each and erasers {g.N(20, 80)} cents. With ${g.N(5, 20)}, what is the largest number of pencils you can buy if you also need {g.N(1, 4)} erasers?"),
                V("pub.prob.liar", _ => "Three friends: one always lies, one always tells the truth, one answers randomly. With three yes/no questions, how do you find out who is who?"),
                V("pub.prob.seq", g => $"What is the next number in the sequence {g.N(1, 3)}, {g.N(4, 6)}, {g.N(9, 12)}, {g.N(16, 20)}, …, and why?"),
                V("pub.prob.odd", _ => "Is the sum of two odd numbers always even? Prove it."),
                V("pub.prob.tank", g => $"A tank fills at {g.N(5, 20)} litres per minute and drains at {g.N(1, 4)} litres per minute. How long until a {g.N(200, 900)}-litre tank is full?"),
                V("pub.prob.hands", g => $"At a party of {g.N(5, 40)} people, everyone shakes hands with everyone else once. How many handshakes are there?"),
            ]);
    }

    private static class InternalContent
    {
        public static readonly Content Instance = new(
            Subjects:
            [
                V("int.subj.roadmap", g => $"the Project {g.Codename()} roadmap for {g.Quarter()}"),
                V("int.subj.ticket", g => $"ticket {g.Ticket()}, which is blocking the {g.Team()} sprint"),
                V("int.subj.oncall", g => $"the on-call handover for {g.Service()} on {g.Host()}"),
                V("int.subj.reorg", g => $"the reorg that merges {g.Team()} into {g.Team()} next quarter"),
                V("int.subj.wiki", g => $"the runbook at {g.WikiUrl()}"),
                V("int.subj.launch", g => $"the internal launch checklist for {g.Codename()}"),
                V("int.subj.outage", g => $"last {g.P(Weekdays)}'s staging outage on {g.Host()}"),
                V("int.subj.process", g => $"our {g.Team()} team's code review process and the new two-approver rule"),
                V("int.subj.offsite", g => $"the {g.Team()} offsite in {g.City()} and the Project {g.Codename()} planning session"),
            ],
            Sentences:
            [
                V("int.sent.retro", g => $"Sprint {g.N(10, 90)} retro: the {g.Team()} team missed the {g.Codename()} milestone because {g.Ticket()} took longer than planned."),
                V("int.sent.roadmap", g => $"The {g.Quarter()} roadmap moves Project {g.Codename()} beta to {g.P(Months)}, pending sign-off from the {g.Team()} leads."),
                V("int.sent.oncall", g => $"On-call handover: {g.Service()} paged {g.N(2, 9)} times overnight; see {g.Ticket()} and the dashboard on {g.Host()}."),
                V("int.sent.allhands", g => $"At the all-hands, leadership said the {g.Team()} and {g.Team()} teams will share one backlog from {g.P(Months)}."),
                V("int.sent.maint", g => $"Internal only: the staging cluster {g.Host()} will be down for maintenance on {g.P(Weekdays)} from {g.N(18, 23)}:00."),
                V("int.sent.jira", g => $"{g.Ticket()} was moved to In Review by {g.First()}; the fix touches {g.Service()} and needs a canary on {g.P(Environments)}."),
                V("int.sent.wiki", g => $"The updated onboarding steps are on {g.WikiUrl()}; new starters should request VPN access first."),
                V("int.sent.okr", g => $"Our {g.Quarter()} OKR for {g.Team()} is to cut p95 latency of {g.Service()} by {g.N(10, 40)}% before the {g.Codename()} launch."),
                V("int.sent.standup", g => $"Standup notes: {g.First()} is pairing on {g.Ticket()}, {g.First()} is blocked on the {g.Service()} migration, demo moved to {g.P(Weekdays)}."),
                V("int.sent.deploy", g => $"Deploy freeze for {g.Codename()} starts {g.Date()}; hotfixes need approval in the #{g.Team().ToLowerInvariant().Replace(' ', '-')}-release channel."),
                V("int.sent.incident", g => $"Postmortem for INC-{g.N(100, 999)}: a config push to {g.Host()} disabled {g.Service()} for {g.N(5, 90)} minutes."),
                V("int.sent.hiring", g => $"The {g.Team()} team has {g.N(1, 4)} open headcount for {g.Quarter()}; interview loops are tracked in {g.Ticket()}."),
            ],
            Code:
            [
                V("int.code.yaml", g => $"service: {g.Service()}\nreplicas: {g.N(2, 12)}\nupstream: https://{g.Host()}:8443\n# owner: {g.Team()} (see {g.Ticket()})"),
                V("int.code.curl", g => $"curl -sS https://{g.Host()}/api/v{g.N(1, 3)}/deploys?team={g.Team().Replace(' ', '-')} | jq '.items[] | .status'"),
                V("int.code.py", g => $"# TODO({g.Ticket()}): remove after Project {g.Codename()} ships\nresp = requests.get('https://{g.Host()}/health', timeout=5)\nif resp.status_code != 200:\n    alert('{g.Service()} unhealthy')"),
                V("int.code.cs", g => $"// Internal client for {g.Service()} ({g.Team()} team)\nvar client = new HttpClient {{ BaseAddress = new Uri(\"https://{g.Host()}\") }};\nvar flags = await client.GetFromJsonAsync<Flags>(\"/flags/{g.Codename().ToLowerInvariant()}\");"),
                V("int.code.tf", g => $"resource \"internal_dns\" \"{g.Service()}\" {{\n  name = \"{g.Host()}\"\n  team = \"{g.Team()}\"\n}}"),
                V("int.code.ci", g => $"stages:\n  - build\n  - deploy\njob:\n  script: ./deploy.sh --target {g.Host()} --ticket {g.Ticket()}"),
                V("int.code.sql", g => $"SELECT ticket, assignee, status\nFROM sprint_board\nWHERE project = '{g.Codename()}' AND sprint = {g.N(10, 90)};"),
            ],
            Specs:
            [
                V("int.spec.deploy", g => $"calls our deploy API at {g.Host()} and retries on 503"),
                V("int.spec.slack", g => $"posts to the #{g.Team().ToLowerInvariant().Replace(' ', '-')}-oncall channel when {g.Service()} fails its health check"),
                V("int.spec.jira", g => $"reads all {g.P(TicketPrefixes)} tickets for Project {g.Codename()} from our internal tracker and lists the blocked ones"),
                V("int.spec.flags", g => $"toggles the {g.Codename().ToLowerInvariant()}_beta feature flag on {g.Host()}"),
                V("int.spec.runbook", g => $"checks the runbook steps from {g.WikiUrl()} automatically"),
                V("int.spec.metrics", g => $"pulls p95 latency for {g.Service()} from {g.Host()} for the {g.Team()} weekly report"),
            ],
            Problems:
            [
                V("int.prob.velocity", g => $"Our velocity is {g.N(20, 60)} points per sprint and Project {g.Codename()} has {g.N(80, 400)} points left. If {g.N(1, 3)} of {g.N(5, 9)} engineers are on leave for one sprint, when do we finish?"),
                V("int.prob.rota", g => $"The {g.Service()} on-call rota has {g.N(4, 9)} engineers and covers {g.N(8, 26)} weeks. How do we split it so nobody gets two weeks in a row?"),
                V("int.prob.path", g => $"{g.Ticket()} blocks {g.Ticket()} and {g.Ticket()}, each taking {g.N(2, 8)} days. What's the critical path to the {g.Codename()} milestone on {g.Date()}?"),
                V("int.prob.runners", g => $"Our build runners on {g.Host()} handle {g.N(20, 80)} jobs an hour; the {g.Team()} team needs {g.N(90, 300)} at peak. How many more runners do we need?"),
                V("int.prob.freeze", g => $"Project {g.Codename()} beta needs {g.N(3, 8)} weeks and GA {g.N(2, 6)} more; the {g.Quarter()} code freeze is on {g.Date()}. Do we make it if we start next {g.P(Weekdays)}?"),
            ]);
    }

    private static class ConfidentialContent
    {
        public static readonly Content Instance = new(
            Subjects:
            [
                V("conf.subj.salary", g => $"the salary negotiation with {g.Name()}, who currently earns {g.Money(60000, 240000)}"),
                V("conf.subj.contract", g => $"the {g.Company()} contract renewal at {g.Money(100000, 5000000)} a year"),
                V("conf.subj.pip", g => $"the performance improvement plan for {g.Name()} in {g.Team()}"),
                V("conf.subj.mna", g => $"our planned acquisition of {g.Company()} (codename {g.Codename()}) before it is announced"),
                V("conf.subj.invoice", g => $"customer {g.Name()}'s disputed invoice of {g.Money(500, 90000)}"),
                V("conf.subj.leave", g => $"{g.Name()}'s medical leave for {g.P(Conditions)}"),
                V("conf.subj.earnings", g => $"our unreleased {g.Quarter()} earnings, which miss guidance by {g.N(3, 25)}%"),
                V("conf.subj.layoffs", g => $"the layoffs planned for the {g.Team()} team in {g.P(Months)}"),
                V("conf.subj.complaint", g => $"the harassment complaint {g.Name()} filed against their manager"),
            ],
            Sentences:
            [
                V("conf.sent.customer", g => $"Customer {g.Name()} (account {g.N(100000, 999999)}) has an outstanding balance of {g.Money(1000, 250000)} and disputes invoice INV-{g.N(1000, 99999)}."),
                V("conf.sent.contract", g => $"Under the master services agreement with {g.Company()}, we agreed a {g.N(5, 40)}% discount until {g.N(2025, 2030)} and a termination fee of {g.Money(50000, 2000000)}."),
                V("conf.sent.hr", g => $"HR note: {g.Name()} was placed on a performance improvement plan after {g.N(2, 5)} missed targets; a final review is due on {g.Date()}."),
                V("conf.sent.medical", g => $"The employee disclosed a diagnosis of {g.P(Conditions)} and is taking {g.P(Drugs)}; occupational health recommends reduced hours."),
                V("conf.sent.finance", g => $"Before the earnings release, {g.Quarter()} revenue came in at {g.Money(10, 900)}M against guidance of {g.Money(10, 900)}M; this is not public yet."),
                V("conf.sent.mna", g => $"We are in exclusive talks to acquire {g.Company()} for {g.Money(50, 4000)}M; the board votes on {g.Date()} and nobody outside the deal team may know."),
                V("conf.sent.salary", g => $"{g.Name()} earns {g.Money(55000, 260000)} with a {g.N(5, 30)}% bonus; the proposed raise would put them above the band for level L{g.N(3, 8)}."),
                V("conf.sent.pricing", g => $"Our proprietary pricing model gives {g.Company()} tier-{g.N(1, 4)} rates: {g.N(5, 25)}% off above {g.Money(100000, 900000)} of annual spend."),
                V("conf.sent.termination", g => $"{g.Name()} will be let go on {g.Date()} with {g.N(2, 12)} weeks' severance; do not tell the team before then."),
                V("conf.sent.bank", g => $"The bank statement for {g.Name()} shows {g.N(3, 20)} transfers totalling {g.Money(2000, 300000)} to {g.Company()} in {g.P(Months)}."),
                V("conf.sent.board", g => $"Board minutes, not for distribution: the CFO proposed closing the {g.City()} office and moving {g.N(20, 300)} roles to {g.City()}."),
                V("conf.sent.claim", g => $"Insurance claim {g.N(10000, 99999)} for {g.Name()} lists treatment for {g.P(Conditions)} costing {g.Money(2000, 90000)}."),
            ],
            Code:
            [
                V("conf.code.pricing", g => $"// Copyright {g.Company()}. PROPRIETARY AND CONFIDENTIAL. Do not distribute.\ndecimal Discount(decimal spend) => spend > {g.N(100, 900)}_000m ? 0.{g.N(10, 30)}m : 0.{g.N(1, 9):00}m;"),
                V("conf.code.salaries", g => $"SELECT employee_name, base_salary, bonus_pct\nFROM payroll\nWHERE department = '{g.Team()}' AND base_salary > {g.N(80, 200)}000;"),
                V("conf.code.customers", g => $"customers = [\n    {{'name': '{g.Name()}', 'balance': {g.N(1000, 90000)}, 'plan': 'enterprise'}},\n    {{'name': '{g.Name()}', 'balance': {g.N(1000, 90000)}, 'plan': 'pro'}},\n]"),
                V("conf.code.proprietary", g => $"# {g.Company()} internal - proprietary ranking algorithm, trade secret\ndef score(user):\n    return 0.{g.N(2, 8)} * user.ltv + 0.{g.N(1, 5)} * user.churn_risk"),
                V("conf.code.hr", g => $"var reviews = db.PerformanceReviews\n    .Where(r => r.Rating < {g.N(2, 3)} && r.Employee == \"{g.Name()}\")\n    .ToList(); // PIP candidates"),
                V("conf.code.mna", g => $"# Deal model for {g.Company()} (codename {g.Codename()}) - board eyes only\noffer_per_share = {g.N(10, 90)}.{g.N(10, 99)}\npremium = offer_per_share / market_price - 1"),
            ],
            Specs:
            [
                V("conf.spec.discount", g => $"implements our proprietary discount tiers for {g.Company()} ({g.N(5, 25)}% over {g.Money(100000, 900000)})"),
                V("conf.spec.bonus", g => $"computes bonuses from the payroll table for the {g.Team()} team, where {g.Name()} gets {g.N(5, 30)}%"),
                V("conf.spec.export", g => $"exports every customer with an unpaid balance over {g.Money(1000, 50000)}, with their names and account numbers"),
                V("conf.spec.churn", g => $"scores which of {g.Company()}'s contracts are likely to churn using our confidential revenue data"),
                V("conf.spec.claims", g => $"flags employees' insurance claims for {g.P(Conditions)} over {g.Money(1000, 20000)}"),
            ],
            Problems:
            [
                V("conf.prob.mna", g => $"We're acquiring {g.Company()} for {g.Money(100, 3000)}M at a {g.N(10, 45)}% premium. What was the implied pre-deal valuation?"),
                V("conf.prob.band", g => $"{g.Name()}'s salary is {g.Money(60000, 180000)} and the band for L{g.N(3, 7)} tops out at {g.Money(150000, 260000)}. What raise keeps them in band?"),
                V("conf.prob.invoice", g => $"Customer {g.Company()} owes {g.Money(10000, 500000)} across {g.N(2, 9)} overdue invoices; with a {g.N(1, 3)}% monthly late fee, what do they owe after {g.N(2, 12)} months?"),
                V("conf.prob.miss", g => $"Our unreleased {g.Quarter()} revenue is {g.Money(20, 900)}M against guidance of {g.Money(20, 900)}M. By what percentage do we miss or beat it?"),
                V("conf.prob.liability", g => $"The contract with {g.Company()} caps liability at {g.N(1, 3)}x annual fees of {g.Money(100000, 2000000)}. What's our maximum exposure if both claims succeed?"),
            ]);
    }

    private static class RestrictedContent
    {
        public static readonly Content Instance = new(
            Subjects:
            [
                V("res.subj.dbpw", g => $"the prod database password {g.Password()}"),
                V("res.subj.aws", g => $"the leaked key {g.AwsKeyId()} with secret {g.AwsSecret()}"),
                V("res.subj.patient", g => $"patient {g.Name()}, {g.Mrn()}, SSN {g.Ssn()}"),
                V("res.subj.classified", g => $"the {g.ClassificationMarking()} briefing on Operation {g.P(Operations)}"),
                V("res.subj.privileged", g => $"the privileged attorney-client memo about the {g.Company()} lawsuit"),
                V("res.subj.token", g => $"my GitHub token {g.GitHubToken()}"),
                V("res.subj.card", g => $"the card {g.Card()} with CVV {g.N(100, 999)}"),
                V("res.subj.root", g => $"the root login for {g.Host()} (user root, password {g.Password()})"),
                V("res.subj.passport", g => $"{g.Name()}'s passport {g.Passport()} and date of birth {g.IsoDate()}"),
            ],
            Sentences:
            [
                V("res.sent.creds", g => $"Login for the admin console: user admin, password {g.Password()}."),
                V("res.sent.aws", g => $"AWS_ACCESS_KEY_ID={g.AwsKeyId()} AWS_SECRET_ACCESS_KEY={g.AwsSecret()}"),
                V("res.sent.patient", g => $"Patient: {g.Name()}, DOB {g.IsoDate()}, {g.Mrn()}, SSN {g.Ssn()}, admitted with {g.P(Conditions)}."),
                V("res.sent.classified", g => $"{g.ClassificationMarking()}: the convoy for Operation {g.P(Operations)} leaves {g.City()} at {g.N(0, 23):00}{g.N(0, 5)}0Z."),
                V("res.sent.privileged", g => $"PRIVILEGED & CONFIDENTIAL - ATTORNEY-CLIENT COMMUNICATION: counsel estimates our exposure in the {g.Company()} case at {g.Money(2, 900)}M."),
                V("res.sent.key", g => g.PrivateKey()),
                V("res.sent.token", g => $"Use this token for the deploy bot: {g.P([g.GitHubToken(), g.SlackToken(), g.ApiKey()])}"),
                V("res.sent.card", g => $"Charge card {g.Card()}, expiry {g.N(1, 12):00}/{g.N(26, 31)}, CVV {g.N(100, 999)}, holder {g.Name()}."),
                V("res.sent.iban", g => $"Wire the settlement to IBAN {g.Iban()} in the name of {g.Name()}, passport {g.Passport()}."),
                V("res.sent.jwt", g => $"Authorization: Bearer {g.Jwt()}"),
                V("res.sent.conn", g => $"Server={g.Host()};Database=prod;User Id=sa;Password={g.Password()};"),
                V("res.sent.ssn", g => $"Employee record: {g.Name()}, SSN {g.Ssn()}, home address {g.N(1, 200)} {g.P(LastNames)} Street, {g.City()}."),
            ],
            Code:
            [
                V("res.code.aws", g => $"s3 = boto3.client('s3',\n    aws_access_key_id='{g.AwsKeyId()}',\n    aws_secret_access_key='{g.AwsSecret()}')\nprint(s3.list_buckets())"),
                V("res.code.conn", g => $"var conn = new SqlConnection(\"Server={g.Host()};User Id=sa;Password={g.Password()};\");\nconn.Open();"),
                V("res.code.key", g => $"PRIVATE_KEY = \"\"\"{g.PrivateKey()}\"\"\"\nsigner = load_key(PRIVATE_KEY)"),
                V("res.code.env", g => $"export GITHUB_TOKEN={g.GitHubToken()}\nexport DB_PASSWORD='{g.Password()}'\n./release.sh"),
                V("res.code.jwt", g => $"const JWT_SECRET = '{g.ApiKey()}';\nconst token = jwt.sign({{ sub: 'admin' }}, JWT_SECRET);"),
                V("res.code.patients", g => $"INSERT INTO patients (name, ssn, mrn, diagnosis)\nVALUES ('{g.Name()}', '{g.Ssn()}', '{g.Mrn()[4..]}', '{g.P(Conditions)}');"),
                V("res.code.stripe", g => $"stripe.api_key = \"{g.ApiKey()}\"\ncharge = stripe.Charge.create(amount={g.N(100, 99999)}, currency='usd')"),
            ],
            Specs:
            [
                V("res.spec.login", g => $"logs into prod with user admin and password {g.Password()}"),
                V("res.spec.aws", g => $"uses the AWS key {g.AwsKeyId()} and secret {g.AwsSecret()} to list our buckets"),
                V("res.spec.decrypt", g => $"decrypts our backups with this private key:\n{g.PrivateKey()}\n"),
                V("res.spec.ssn", g => $"looks up the patient with SSN {g.Ssn()} and {g.Mrn()} and prints their diagnosis"),
                V("res.spec.token", g => $"calls the API with my token {g.GitHubToken()} hard-coded"),
                V("res.spec.card", g => $"charges card {g.Card()} (CVV {g.N(100, 999)}) for the overdue amount"),
            ],
            Problems:
            [
                V("res.prob.rotate", g => $"Our root password {g.Password()} expires every {g.N(30, 120)} days and was set on {g.Date()}. When must we rotate it?"),
                V("res.prob.aws", g => $"The AWS key {g.AwsKeyId()} was pushed to a public repo {g.N(2, 48)} hours ago and rotation takes {g.N(1, 6)} hours. How long was it exposed in total?"),
                V("res.prob.dose", g => $"Patient {g.Name()} ({g.Mrn()}, DOB {g.IsoDate()}) takes {g.P(Drugs)} {g.N(5, 500)} mg every {g.N(4, 12)} hours. How many mg is that per week?"),
                V("res.prob.convoy", g => $"{g.ClassificationMarking()}: the convoy leaves {g.City()} at {g.N(0, 23):00}00, travels {g.N(100, 900)} km at {g.N(40, 90)} km/h. When does it arrive?"),
                V("res.prob.settlement", g => $"Privileged and confidential, attorney-client: settlement offers of {g.Money(1, 90)}M and {g.Money(1, 90)}M have a {g.N(10, 90)}% and {g.N(10, 90)}% chance of acceptance. What is the expected cost?"),
            ]);
    }
}
