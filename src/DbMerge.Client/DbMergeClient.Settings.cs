using System.Data;

namespace DbMerge.Client;

public sealed partial class DbMergeClient
{
    public const string SettingListProcedure = "api.Setting_List";
    public const string SettingSetProcedure = "api.Setting_Set";

    /// <summary>Every setting of <c>dbmerge.Setting</c> by name (none is secret).</summary>
    public Task<IReadOnlyList<DbMergeSetting>> ListSettingsAsync(CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<DbMergeSetting>>(
            SettingListProcedure,
            _ => { },
            async (reader, _, ct) =>
            {
                var settings = new List<DbMergeSetting>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    settings.Add(new DbMergeSetting(
                        reader.Get<string>("Name"), reader.Get<string>("Value"), reader.Get<string>("Description"),
                        reader.Get<DateTime>("UpdatedAt"), reader.Get<string>("UpdatedBy")));
                }

                return settings;
            },
            timeout: null,
            cancellationToken);

    /// <summary>Changes one setting (validated per name). Operator-only. Errors 51540–51542.</summary>
    public Task<DbMergeSettingChanged> SetSettingAsync(string name, string value, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            SettingSetProcedure,
            p =>
            {
                p.Add("@Name", SqlDbType.VarChar, 100).Value = (object?)name ?? DBNull.Value;
                p.Add("@Value", SqlDbType.NVarChar, 2000).Value = (object?)value ?? DBNull.Value;
            },
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, SettingSetProcedure, ct).ConfigureAwait(false);
                return new DbMergeSettingChanged(
                    reader.Get<string>("Name"), reader.Get<string>("Value"), reader.Get<string>("Description"),
                    reader.Get<DateTime>("UpdatedAt"), reader.Get<string>("UpdatedBy"), reader.Get<string>("PreviousValue"));
            },
            timeout: null,
            cancellationToken);
}
