namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    private static DbMergeError[] Invitations =>
    [
    ];
}
