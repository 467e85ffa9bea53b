/*
 * standalone.c -- replay driver for libFuzzer targets without libFuzzer.
 *
 * usage: replay_X PATH...   each PATH is a file, or a directory whose
 * files (not dot files, not recursively) are each one input.  Every input
 * goes once through LLVMFuzzerTestOneInput.  Exit 0 when every input was
 * read and replayed (a failed check aborts), 1 on a read error or no input.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	FILE		*f;
	uint8_t		*buf;
	long		 len;
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) == -1 || (len = ftell(f)) == -1 ||
	    fseek(f, 0, SEEK_SET) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	/* One spare byte so an empty file is not malloc(0). */
	if ((buf = malloc((size_t)len + 1)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t)len, f);
	if (n != (size_t)len || ferror(f)) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
replay_path(const char *path, unsigned long *count)
{
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;
	char		*sub;
	int		 rc = 0;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (replay_file(path) == -1)
			return -1;
		(*count)++;
		return 0;
	}
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", path, de->d_name) == -1) {
			fprintf(stderr, "%s: out of memory\n", path);
			rc = -1;
			break;
		}
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(sub);
			continue;
		}
		if (replay_file(sub) == -1)
			rc = -1;
		else
			(*count)++;
		free(sub);
	}
	closedir(d);
	return rc;
}

int
main(int argc, char *argv[])
{
	unsigned long	count = 0;
	int		i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file|directory ...\n", argv[0]);
		return 1;
	}
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) == -1)
			rc = 1;
	fprintf(stderr, "%s: replayed %lu inputs\n", argv[0], count);
	if (count == 0)
		rc = 1;
	return rc;
}
