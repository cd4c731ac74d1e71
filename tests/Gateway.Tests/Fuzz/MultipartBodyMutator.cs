using System.Text;

namespace InferenceMesh.Gateway.Tests.Fuzz;

/// <summary>
/// Mutations of a valid <c>POST /v1/files</c> upload (multipart/form-data with a <c>purpose</c> and a <c>file</c> part),
/// drawn from a seeded <see cref="Random"/>: hostile field values, file names and contents, parts missing or repeated,
/// broken framing and other Content-Types.
/// </summary>
internal sealed class MultipartBodyMutator(Random random)
{
    private const string Boundary = "fuzz-boundary-7d1";
    private const string ContentType = "multipart/form-data; boundary=" + Boundary;

    public static readonly byte[] FileContent = "Lily had a big red ball. She played with it in the park every day.\n"u8.ToArray();

    private static readonly byte[][] HostilePurposes =
    [
        [], "batch"u8.ToArray(), "fine-tune"u8.ToArray(), "user_data"u8.ToArray(), "../../x"u8.ToArray(), "assistants\r\nX-Evil: 1"u8.ToArray(),
        [0xFF, 0xFE], [0x00], Encoding.UTF8.GetBytes(new string('p', 100_000)), "\"assistants\""u8.ToArray(), "{\"a\":1}"u8.ToArray(),
    ];

    private static readonly string[] HostileFileNames =
    [
        "filename=\"\"", "filename=\"../../../etc/passwd\"", "filename=\"" + new string('n', 5000) + ".txt\"", "filename=\"a\\\"b.txt\"",
        "filename=\"a\u0000b.txt\"", "filename*=UTF-8''%FF%FE.txt", "filename*=garbage", "filename=\"😀.txt\"", "filename=\"CON\"",
        "filename=\"/tmp/x.txt\"", "filename=\"x.pdf\"", "filename=\"\\\\server\\share.txt\"", "filename=", "filename=\"a\r\nb\"",
    ];

    private static readonly byte[][] HostileContents =
    [
        [], [0xFF, 0xFE, 0xFD], [0x00, 0x00, 0x00], "%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage"u8.ToArray(), "%PDF-"u8.ToArray(),
        [0xED, 0xA0, 0x80], [.. Enumerable.Repeat((byte)'a', 2 << 20)], Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("😀", 10_000))),
    ];

    public Mutation Valid() => new("valid upload", Build(Purpose("assistants"u8.ToArray()), File("filename=\"notes.txt\"", FileContent), close: true), ContentType);

    public Mutation Next()
    {
        var purpose = Purpose("assistants"u8.ToArray());
        var file = File("filename=\"notes.txt\"", FileContent);
        switch (random.Next(16))
        {
            case 0:
            {
                var i = random.Next(HostilePurposes.Length);
                return new($"purpose #{i} hostile", Build(Purpose(HostilePurposes[i]), file, close: true), ContentType);
            }

            case 1 or 2:
            {
                var name = HostileFileNames[random.Next(HostileFileNames.Length)];
                return new($"file name {Printable(name)}", Build(purpose, File(name, FileContent), close: true), ContentType);
            }

            case 3:
            {
                var i = random.Next(HostileContents.Length);
                return new($"file content #{i} hostile", Build(purpose, File("filename=\"notes.txt\"", HostileContents[i]), close: true), ContentType);
            }

            case 4: return new("no purpose part", Build(file, [], close: true), ContentType);
            case 5: return new("no file part", Build(purpose, [], close: true), ContentType);
            case 6: return new("purpose twice", Build([.. purpose, .. purpose], file, close: true), ContentType);
            case 7: return new("file twice", Build(purpose, [.. file, .. file], close: true), ContentType);
            case 8: return new("no closing boundary", Build(purpose, file, close: false), ContentType);
            case 9:
            {
                var valid = Build(purpose, file, close: true);
                var at = random.Next(valid.Length);
                return new($"cut after {at} of {valid.Length} bytes", valid[..at], ContentType);
            }

            case 10: return new("another boundary in the body", Build(purpose, file, close: true), "multipart/form-data; boundary=other");
            case 11:
            {
                string[] types = ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"" + new string('b', 300) + "\"",
                    "multipart/mixed; boundary=" + Boundary, JsonBodyMutator.Json, "text/plain", ""];
                var type = types[random.Next(types.Length)];
                return new($"Content-Type '{Printable(type)}'", Build(purpose, file, close: true), type.Length == 0 ? null : type);
            }

            case 12: return new("a JSON body", "{\"purpose\":\"assistants\",\"file\":\"x\"}"u8.ToArray(), random.Next(2) == 0 ? ContentType : JsonBodyMutator.Json);
            case 13: return new("empty body", [], ContentType);
            case 14:
            {
                string[] headers = ["Content-Disposition: attachment; name=\"file\"; filename=\"a.txt\"", "X-No-Disposition: 1", "Content-Disposition form-data",
                    "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nX-Long: " + new string('h', 100_000),
                    "Content-Disposition: form-data; name=\"" + new string('f', 10_000) + "\"; filename=\"a.txt\""];
                var header = headers[random.Next(headers.Length)];
                var part = Encoding.UTF8.GetBytes($"--{Boundary}\r\n{header}\r\n\r\n").Concat(FileContent).Concat("\r\n"u8.ToArray()).ToArray();
                return new($"a part with header {Printable(header)}", Build(purpose, part, close: true), ContentType);
            }

            default:
            {
                var extra = Encoding.UTF8.GetBytes($"--{Boundary}\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\n").Concat(HostilePurposes[random.Next(HostilePurposes.Length)]).Concat("\r\n"u8.ToArray()).ToArray();
                return new("an unknown part", Build([.. extra, .. purpose], file, close: true), ContentType);
            }
        }
    }

    private static byte[] Purpose(byte[] value) =>
        [.. Encoding.ASCII.GetBytes($"--{Boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"), .. value, .. "\r\n"u8];

    private static byte[] File(string fileNameParameter, byte[] content) =>
        [.. Encoding.UTF8.GetBytes($"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; {fileNameParameter}\r\nContent-Type: text/plain\r\n\r\n"), .. content, .. "\r\n"u8];

    private static byte[] Build(byte[] first, byte[] second, bool close) =>
        [.. first, .. second, .. (close ? Encoding.ASCII.GetBytes($"--{Boundary}--\r\n") : [])];

    private static string Printable(string text) => text.Length > 60 ? text[..60] + $"…({text.Length} chars)" : text;
}
