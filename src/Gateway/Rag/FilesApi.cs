using System.Globalization;
using System.Text;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Files;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace InferenceMesh.Gateway.Rag;

/// <summary>
/// OpenAI's Files API over the context store: upload (multipart: <c>file</c>, <c>purpose</c>), list, get, content,
/// delete. Uploads are streamed to disk and hashed (SHA-256) without being held in memory; the stored name is a
/// generated id, so no client file name ever becomes a path. Larger than <c>--max-file-bytes</c>: 413.
/// </summary>
internal static class FilesApi
{
    /// <summary>Room for the multipart framing and the purpose field around the file itself.</summary>
    private const long MultipartOverheadBytes = 64 * 1024;

    private const int MaxFieldBytes = 1024;

    /// <summary>What a file id looks like, for the messages of the list parameters.</summary>
    public const string FileIdShape = "'file-' and 24 lowercase hex digits";

    public static IEndpointRouteBuilder MapFilesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/files", UploadAsync);
        app.MapGet("/v1/files", List);
        app.MapGet("/v1/files/{fileId}", Get);
        app.MapGet("/v1/files/{fileId}/content", Content);
        app.MapDelete("/v1/files/{fileId}", Delete);
        return app;
    }

    public static async Task<IResult> UploadAsync(HttpContext http, [FromServices] RagService rag)
    {
        var store = rag.Files;
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = store.MaxBytes + MultipartOverheadBytes;
        }

        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { Length: > 0 and <= 256 } boundary)
        {
            return new ApiError(StatusCodes.Status400BadRequest, "Send the file as multipart/form-data with the fields 'file' and 'purpose'.",
                ApiError.InvalidRequest, "file", "invalid_content_type");
        }

        var cancellationToken = http.RequestAborted;
        var reader = new MultipartReader(boundary, http.Request.Body);
        string? purpose = null;
        string? fileName = null;
        RagFileStore.StagedUpload? staged = null;
        try
        {
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value;
                if ((name == "file" && staged is not null) || (name == "purpose" && purpose is not null))
                {
                    // Keeping one copy would silently drop the other file, or pick a purpose the client may not have meant.
                    return ApiErrors.InvalidParameter(name, $"The body has more than one '{name}' part: send one file and one purpose per request.");
                }

                if (name == "file" && !disposition.IsFileDisposition())
                {
                    // A 'file' part without a file name (or with an empty one) was skipped, and the answer said no file was sent.
                    return ApiErrors.InvalidParameter("file",
                        "The 'file' part has no file name: send it as a file (Content-Disposition: form-data; name=\"file\"; filename=\"...\").");
                }

                if (name == "file")
                {
                    fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                    var result = await store.StageAsync(section.Body, cancellationToken);
                    if (result.Error is { } stageError)
                    {
                        return stageError.ToApiError();
                    }

                    staged = result.Value;
                }
                else if (name == "purpose")
                {
                    purpose = await ReadFieldAsync(section.Body, cancellationToken);
                    if (purpose is null)
                    {
                        return ApiErrors.InvalidParameter("purpose", $"'purpose' must be at most {MaxFieldBytes} bytes.");
                    }
                }
            }

            if (staged is null)
            {
                return ApiErrors.MissingParameter("file");
            }

            if (purpose is null)
            {
                return ApiErrors.MissingParameter("purpose");
            }

            var committed = store.Commit(staged, fileName, purpose.Trim());
            staged = null;
            return committed.Error is { } error ? error.ToApiError() : Ok(ToWire(committed.Value!));
        }
        catch (InvalidDataException)
        {
            return MalformedMultipart();
        }
        catch (IOException ex) when (ex is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            // The multipart reader reports a body that ends before its closing boundary (empty, cut short, another
            // boundary than the header's) with a bare IOException. Only when the body has really ended is it the client's
            // fault; anything else (a failing disk while staging) stays a 500, and Kestrel's 413 is not caught here.
            if (await http.Request.Body.ReadAsync(new byte[1], cancellationToken) != 0)
            {
                throw;
            }

            return MalformedMultipart();
        }
        finally
        {
            if (staged is not null)
            {
                RagFileStore.Discard(staged);
            }
        }
    }

    public static IResult List(HttpContext http, [FromServices] RagService rag)
    {
        var query = http.Request.Query;
        var purpose = query["purpose"].ToString() is { Length: > 0 } p ? p : null;
        var read = ListQuery.Read(query, defaultLimit: 10000, maxLimit: 10000, RagFileStore.IsWellFormedId, FileIdShape);
        if (read.Error is { } error) return error;
        var page = read.Value!;
        if (rag.Files.List(purpose, page.Ascending, page.Limit + 1, page.After) is not { } files) return ListQuery.UnknownCursor();
        var data = files.Take(page.Limit).Select(ToWire).ToList();
        return Ok(new FileList(data, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id, files.Count > page.Limit));
    }

    public static IResult Get(string fileId, [FromServices] RagService rag) =>
        rag.Files.Find(fileId) is { } file ? Ok(ToWire(file)) : RagError.NotFound("file", fileId, "file_id").ToApiError();

    public static IResult Content(string fileId, [FromServices] RagService rag)
    {
        if (rag.Files.OpenContent(fileId) is not { } stream)
        {
            return RagError.NotFound("file", fileId, "file_id").ToApiError();
        }

        return Results.Stream(stream, "application/octet-stream");
    }

    public static IResult Delete(string fileId, [FromServices] RagService rag)
    {
        var deleted = rag.DeleteFile(fileId);
        return deleted.Error is { } error
            ? error.ToApiError()
            : new JsonOk<DeletionResult>(new DeletionResult(deleted.Value!.Id, "file", true), RagJsonContext.Default.DeletionResult);
    }

    internal static FileObject ToWire(RagFile file) => new(file.Id, file.Bytes, file.CreatedAt, file.FileName, file.Purpose, file.Sha256);

    private static JsonOk<FileObject> Ok(FileObject file) => new(file, RagJsonContext.Default.FileObject);

    private static JsonOk<FileList> Ok(FileList list) => new(list, RagJsonContext.Default.FileList);

    private static ApiError MalformedMultipart() =>
        new(StatusCodes.Status400BadRequest, "The multipart body is malformed.", ApiError.InvalidRequest, "file", "invalid_multipart");

    private static async Task<string?> ReadFieldAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxFieldBytes + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }

        return total > MaxFieldBytes ? null : Encoding.UTF8.GetString(buffer, 0, total);
    }
}
