/* Prints argc, every argv entry (with its length, so empty strings and "--"
 * are visible), one chosen environment variable (PYDBT_TEST_VAR) and
 * whether an unset one (PYDBT_TEST_UNSET) is absent; a line on stderr;
 * exits with status 3 through exit() after an atexit handler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bye(void)
{
    printf("atexit handler ran\n");
}

int main(int argc, char **argv, char **envp)
{
    atexit(bye);
    printf("argc=%d\n", argc);
    /* argv[0] is the program path as given: print only its last component */
    const char *slash = strrchr(argv[0], '/');
    printf("argv[0] basename=[%s]\n", slash ? slash + 1 : argv[0]);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=[%s] len=%zu\n", i, argv[i], strlen(argv[i]));
    printf("argv[argc] is NULL: %d\n", argv[argc] == NULL);
    const char *v = getenv("PYDBT_TEST_VAR");
    printf("PYDBT_TEST_VAR=[%s]\n", v ? v : "(unset)");
    printf("PYDBT_TEST_UNSET unset: %d\n", getenv("PYDBT_TEST_UNSET") == NULL);
    int seen = 0;
    for (char **e = envp; *e; e++)
        if (strncmp(*e, "PYDBT_TEST_VAR=", 15) == 0)
            seen++;
    printf("envp has PYDBT_TEST_VAR %d time(s)\n", seen);
    fprintf(stderr, "argv_env: this line goes to stderr\n");
    exit(3);
}
