using InferenceMesh.ModelCache.Adapters;
using InferenceMesh.ModelCache.Gguf;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.ModelCache.Store;

/// <summary>LoRA adapters: blobs like models, registered in the <c>adapters</c> table against a base model's digest.</summary>
internal sealed partial class ModelStore
{
    public IReadOnlyList<StoredAdapter> ListAdapters() => _manifest.ListAdapters();

    public StoredAdapter? FindAdapter(string name) => AdapterName.IsValid(name) ? _manifest.FindAdapter(name) : null;

    public async Task<AdapterStoreResult> AddAdapterAsync(string path, AdapterRegistration registration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(registration);
        if (AdapterName.Validate(registration.Name) is { } nameError)
        {
            return RejectAdapter(registration.Name, StoreError.InvalidName, nameError);
        }

        if (!float.IsFinite(registration.DefaultScale))
        {
            return RejectAdapter(registration.Name, StoreError.InvalidAdapter, "the default scale is not a finite number");
        }

        var baseModel = ModelName.IsValid(registration.BaseName) ? _manifest.Find(registration.BaseName) : null;
        if (baseModel is null || baseModel.Status != StoredModelStatus.Ok || !File.Exists(baseModel.Path))
        {
            return RejectAdapter(registration.Name, StoreError.NotFound,
                $"no usable base model named '{GgufText.Printable(registration.BaseName)}' in the store (see 'models list')");
        }

        var baseGguf = GgufReader.Read(baseModel.Path);
        if (!baseGguf.IsValid || LoraAdapterValidator.IsAdapter(baseGguf.File))
        {
            return RejectAdapter(registration.Name, StoreError.NotFound, $"'{GgufText.Printable(registration.BaseName)}' is not a valid model");
        }

        await using var writer = CreateWriter();
        await using (var source = OpenForCopy(path))
        {
            await source.CopyToAsync(writer, StoreDefaults.HashBufferBytes, cancellationToken).ConfigureAwait(false);
        }

        var (digest, length) = writer.Complete();
        writer.CloseFile();

        // The bytes checked are the bytes stored: the copy, not the original (which may change meanwhile).
        var gguf = GgufReader.Read(writer.TempPath);
        if (!gguf.IsValid)
        {
            return RejectAdapter(registration.Name, StoreError.InvalidGguf, $"not a valid GGUF file: {gguf.Error}", writer);
        }

        var (info, invalid) = LoraAdapterValidator.Validate(gguf.File, baseGguf.File);
        if (info is null)
        {
            return RejectAdapter(registration.Name, StoreError.InvalidAdapter,
                $"not a LoRA adapter for '{GgufText.Printable(registration.BaseName)}': {invalid}", writer);
        }

        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var previous = _manifest.FindAdapter(registration.Name);
            var blob = Layout.BlobPath(digest);
            File.Move(writer.TempPath, blob, overwrite: true);
            writer.Committed = true;
            var adapter = new StoredAdapter
            {
                Name = registration.Name,
                Digest = digest,
                SizeBytes = length,
                Path = blob,
                BaseName = baseModel.Name,
                BaseDigest = baseModel.Digest,
                Architecture = info.Architecture,
                Alpha = info.Alpha,
                Rank = info.Rank,
                TensorPairs = info.TensorPairs,
                DefaultScale = registration.DefaultScale,
                AddedUtc = _time.GetUtcNow(),
            };
            _manifest.UpsertAdapter(adapter);
            if (previous is not null && previous.Digest != digest)
            {
                DropBlobIfUnreferenced(previous.Digest, previous.Path);
            }

            Log.AdapterRegistered(_logger, adapter.Name, baseModel.Name, digest.Hex);
            return AdapterStoreResult.Ok(_manifest.FindAdapter(adapter.Name) ?? adapter);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public async Task<AdapterStoreResult> RemoveAdapterAsync(string name, CancellationToken cancellationToken)
    {
        if (AdapterName.Validate(name) is { } error)
        {
            return AdapterStoreResult.Fail(StoreError.InvalidName, error);
        }

        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var adapter = _manifest.FindAdapter(name);
            if (adapter is null)
            {
                return AdapterStoreResult.Fail(StoreError.NotFound, $"no adapter named '{GgufText.Printable(name)}'");
            }

            _manifest.RemoveAdapter(name);
            DropBlobIfUnreferenced(adapter.Digest, adapter.Path);
            Log.AdapterRemoved(_logger, name);
            return AdapterStoreResult.Ok(adapter);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private void DropBlobIfUnreferenced(Sha256Digest digest, string path)
    {
        if (_manifest.BlobReferences(digest) == 0 && File.Exists(path))
        {
            File.Delete(path);
        }
    }

    private AdapterStoreResult RejectAdapter(string? name, StoreError error, string reason, ModelBlobWriter? writer = null)
    {
        if (writer is not null)
        {
            writer.CloseFile();
            ModelBlobWriter.TryDelete(writer.TempPath);
        }

        Log.AdapterRejected(_logger, GgufText.Printable(name ?? string.Empty), reason);
        return AdapterStoreResult.Fail(error, reason);
    }
}
