package io.memalloc.internal.os;

/** Names for the few errno values a mapping call gives, so that messages say ENOMEM rather than 12. */
final class Errno {
    private Errno() {}

    static String describe(long errno) {
        String name = switch ((int) errno) {
            case 1 -> "EPERM";
            case 12 -> "ENOMEM";
            case 13 -> "EACCES";
            case 22 -> "EINVAL";
            default -> null;
        };
        return name == null ? "errno " + errno : "errno " + errno + " (" + name + ")";
    }
}
