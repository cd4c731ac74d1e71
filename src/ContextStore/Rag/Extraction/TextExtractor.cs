using System.Text;
using UglyToad.PdfPig;
using UglyToad.PdfPig.DocumentLayoutAnalysis.TextExtractor;

namespace InferenceMesh.ContextStore.Rag.Extraction;

/// <summary>
/// Turns a file's bytes into text for chunking: PDF (by its <c>%PDF-</c> signature or a .pdf name) through PdfPig,
/// page by page in content order; anything else must be UTF-8 text (.txt, .md and other plain text; Markdown is kept
/// as written). Binary content is refused with a clear reason instead of being indexed as noise.
/// </summary>
public static class TextExtractor
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The text, or an error whose code is OpenAI's "unsupported_file" or "invalid_file".</summary>
    public static RagResult<string> Extract(string path, string fileName)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return new RagError(RagErrorKind.NotFound, "The file's content is missing from the data folder.", null, "invalid_file");
        }

        var isPdf = bytes.AsSpan().StartsWith("%PDF-"u8) || fileName.EndsWith(".pdf", StringComparison.OrdinalIgnoreCase);
        return isPdf ? ExtractPdf(bytes) : ExtractText(bytes);
    }

    public static RagResult<string> ExtractText(byte[] bytes)
    {
        var span = bytes.AsSpan();
        if (span.StartsWith("\xEF\xBB\xBF"u8))
        {
            span = span[3..];
        }

        if (span.Contains((byte)0))
        {
            return Unsupported("The file is binary, not text: supported are UTF-8 text (.txt, .md, …) and PDF.");
        }

        try
        {
            return StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException)
        {
            return Unsupported("The file is not valid UTF-8 text: supported are UTF-8 text (.txt, .md, …) and PDF.");
        }
    }

    public static RagResult<string> ExtractPdf(byte[] bytes)
    {
        try
        {
            using var document = PdfDocument.Open(bytes);
            var text = new StringBuilder();
            foreach (var page in document.GetPages())
            {
                var pageText = ContentOrderTextExtractor.GetText(page);
                if (!string.IsNullOrWhiteSpace(pageText))
                {
                    text.Append(pageText.Trim()).Append("\n\n");
                }
            }

            return text.Length == 0
                ? Unsupported("The PDF has no extractable text (a scanned PDF needs OCR first).")
                : text.ToString();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // PdfPig reports damaged files with several exception types; the file is what is wrong, not the program.
            return new RagError(RagErrorKind.Invalid, "The PDF could not be read: " + ex.GetType().Name + ".", "file", "invalid_file");
        }
    }

    private static RagError Unsupported(string message) => new(RagErrorKind.Invalid, message, "file", "unsupported_file");
}
