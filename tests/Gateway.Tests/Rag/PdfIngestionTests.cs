using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>A real PDF, written in the test with PdfPig's document builder (Flate-compressed content streams), is extracted, chunked and found.</summary>
public sealed class PdfIngestionTests
{
    internal static byte[] WritePdf(params string[][] pages)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        foreach (var lines in pages)
        {
            var page = builder.AddPage(PageSize.A4);
            var y = 780.0;
            foreach (var line in lines)
            {
                page.AddText(line, 11, new PdfPoint(40, y), font);
                y -= 16;
            }
        }

        return builder.Build();
    }

    [Fact]
    public async Task A_two_page_pdf_is_indexed_and_its_text_is_found()
    {
        var pdf = WritePdf(
            ["Quarterly report of the orchard cooperative.", "The cider press was repaired in March."],
            ["Page two lists the harvest:", "seventeen crates of quinces and nine of plums."]);
        Assert.True(pdf.AsSpan().StartsWith("%PDF-"u8));
        Assert.Contains("/FlateDecode", System.Text.Encoding.Latin1.GetString(pdf), StringComparison.Ordinal); // compressed, as most PDFs

        await using var gateway = await RagHttp.StartGatewayAsync();
        var file = await RagHttp.UploadAsync(gateway.Http, "report.pdf", pdf);
        var store = await RagHttp.CreateStoreAndWaitAsync(gateway.Http, "", file.GetProperty("id").GetString()!);

        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("completed").GetInt32());
        var page = await RagHttp.SearchAsync(gateway.Http, store.GetProperty("id").GetString()!, "quinces and plums");
        var all = string.Join("\n", RagHttp.Texts(page));
        Assert.Contains("seventeen crates of quinces", all, StringComparison.Ordinal);
        Assert.Contains("cider press was repaired", all, StringComparison.Ordinal);
        Assert.DoesNotContain("%PDF", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_pdf_fails_with_invalid_file()
    {
        var pdf = WritePdf(["Some text."]);
        var damaged = pdf[..(pdf.Length / 3)];

        await using var gateway = await RagHttp.StartGatewayAsync();
        var file = await RagHttp.UploadAsync(gateway.Http, "broken.pdf", damaged);
        var store = await RagHttp.CreateStoreAndWaitAsync(gateway.Http, "", file.GetProperty("id").GetString()!);

        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("failed").GetInt32());
        var files = await RagHttp.GetJsonAsync(gateway.Http, $"/v1/vector_stores/{store.GetProperty("id").GetString()}/files");
        Assert.Equal("invalid_file", files.GetProperty("data")[0].GetProperty("last_error").GetProperty("code").GetString());
    }
}
