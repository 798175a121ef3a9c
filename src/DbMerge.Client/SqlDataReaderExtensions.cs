using Microsoft.Data.SqlClient;

namespace DbMerge.Client;

/// <summary>Small, strict readers for result columns: a missing column is a contract break and throws.</summary>
internal static class SqlDataReaderExtensions
{
    internal static T Get<T>(this SqlDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.GetFieldValue<T>(ordinal);
    }

    internal static T? GetNullable<T>(this SqlDataReader reader, string column)
        where T : struct
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<T>(ordinal);
    }

    internal static string? GetNullableString(this SqlDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
    }
}
