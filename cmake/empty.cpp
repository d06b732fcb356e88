// Placeholder so a room's library exists before its first source file.
