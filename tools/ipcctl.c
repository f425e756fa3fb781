// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ipcctl - inspect and drive an ipcfs mount.
 *
 *   $ ipcctl send -p 7 /mnt/ipc/queues/jobs urgent
 *   $ ipcctl recv -v /mnt/ipc/queues/jobs
 *   7	urgent
 *   $ ipcctl ls /mnt/ipc
 *   queues/jobs	count=0 maxmsg=10 msgsize=8192
 *
 * send and recv reach the queue natively, by the POSIX name the mount shows
 * in the directory's user.ipcfs.name attribute: that is how a message gets
 * a priority and a reader sees it, while `data` stays plain bytes. ls reads
 * attribute files only, never the files that consume or wait, and knows no
 * kind: it learns the kinds, the directories above them and each object's
 * files from the mounted tree.
 *
 * Exit status: 0 done, 1 failed, 2 bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef IPCFS_VERSION
#define IPCFS_VERSION "unknown"
#endif

/* Files that take something or wait when read: ls never opens them. */
static const char *const ipcctl_consuming[] = {
	"data", "stream", "wait", "hold", "post", NULL,
};

static int ipcctl_usage(FILE *out)
{
	fprintf(out,
		"usage: ipcctl send [-p PRIO] QUEUE_DIR MESSAGE\n"
		"       ipcctl recv [-v] QUEUE_DIR\n"
		"       ipcctl ls MOUNTPOINT\n"
		"       ipcctl --help | --version\n"
		"\n"
		"send   send MESSAGE with priority PRIO (default 0)\n"
		"recv   wait for and print one message; -v prints its priority\n"
		"       and a tab first\n"
		"ls     list every object with its attribute files' values\n");
	return out == stderr ? 2 : 0;
}

static mqd_t ipcctl_mq_open(const char *dir, int flags)
{
	char name[512];
	ssize_t len;
	mqd_t mqd;

	len = getxattr(dir, "user.ipcfs.name", name, sizeof(name) - 1);
	if (len < 0) {
		fprintf(stderr,
			"ipcctl: %s: not a queue of an ipcfs mount: %s\n", dir,
			strerror(errno));
		return (mqd_t)-1;
	}
	name[len] = '\0';
	mqd = mq_open(name, flags);
	if (mqd == (mqd_t)-1)
		fprintf(stderr, "ipcctl: %s (%s): %s\n", dir, name,
			strerror(errno));
	return mqd;
}

static int ipcctl_send(int argc, char **argv)
{
	unsigned long prio = 0;
	char *end;
	mqd_t mqd;
	int opt, ret = 0;

	while ((opt = getopt(argc, argv, "p:")) != -1) {
		if (opt != 'p')
			return ipcctl_usage(stderr);
		errno = 0;
		prio = strtoul(optarg, &end, 10);
		if (errno || *end || !*optarg || optarg[0] == '-') {
			fprintf(stderr, "ipcctl: bad priority '%s'\n", optarg);
			return 2;
		}
	}
	if (argc - optind != 2)
		return ipcctl_usage(stderr);
	mqd = ipcctl_mq_open(argv[optind], O_WRONLY);
	if (mqd == (mqd_t)-1)
		return 1;
	if (mq_send(mqd, argv[optind + 1], strlen(argv[optind + 1]), prio) <
	    0) {
		fprintf(stderr, "ipcctl: send to %s: %s\n", argv[optind],
			strerror(errno));
		ret = 1;
	}
	mq_close(mqd);
	return ret;
}

static int ipcctl_recv(int argc, char **argv)
{
	struct mq_attr attr;
	unsigned int prio;
	bool verbose = false;
	char *buf = NULL;
	ssize_t n;
	mqd_t mqd;
	int opt, ret = 1;

	while ((opt = getopt(argc, argv, "v")) != -1) {
		if (opt != 'v')
			return ipcctl_usage(stderr);
		verbose = true;
	}
	if (argc - optind != 1)
		return ipcctl_usage(stderr);
	mqd = ipcctl_mq_open(argv[optind], O_RDONLY);
	if (mqd == (mqd_t)-1)
		return 1;
	if (mq_getattr(mqd, &attr) < 0 || !(buf = malloc(attr.mq_msgsize)))
		goto out_err;
	n = mq_receive(mqd, buf, attr.mq_msgsize, &prio);
	if (n < 0)
		goto out_err;
	if (verbose)
		printf("%u\t", prio);
	fflush(stdout);
	if (write(STDOUT_FILENO, buf, n) != n)
		goto out_err;
	ret = 0;
	goto out_close;
out_err:
	fprintf(stderr, "ipcctl: recv from %s: %s\n", argv[optind],
		strerror(errno));
out_close:
	free(buf);
	mq_close(mqd);
	return ret;
}

static bool ipcctl_is_consuming(const char *name)
{
	size_t i;

	for (i = 0; ipcctl_consuming[i]; i++)
		if (strcmp(name, ipcctl_consuming[i]) == 0)
			return true;
	return false;
}

/* One object: "kind/name<TAB>attr=value ..." */
static void ipcctl_ls_object(const char *path, const char *label)
{
	char file[4096], val[256];
	struct dirent *de;
	DIR *d = opendir(path);
	ssize_t n;
	int fd;

	printf("%s\t", label);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || ipcctl_is_consuming(de->d_name))
			continue;
		if (snprintf(file, sizeof(file), "%s/%s", path, de->d_name) >=
		    (int)sizeof(file))
			continue;
		fd = open(file, O_RDONLY | O_NONBLOCK);
		if (fd < 0)
			continue;
		n = read(fd, val, sizeof(val) - 1);
		close(fd);
		if (n < 0)
			continue;
		val[n] = '\0';
		val[strcspn(val, "\n")] = '\0';
		printf(" %s=%s", de->d_name, val);
	}
	printf("\n");
	if (d)
		closedir(d);
}

/* Directories between the root and objects: "sysv", "sysv/msg", ... */
#define IPCCTL_DEPTH_MAX 8

/*
 * Every object under directory PATH (LABEL relative to the mount): the tree
 * says what is what, so ipcctl knows no kind. An object directory has a
 * user.ipcfs.name; any other directory (a kind's, or one above kinds) is
 * walked into.
 */
static void ipcctl_ls_dir(const char *path, const char *label, int depth)
{
	char sub[4096], sublabel[512];
	struct dirent *de;
	DIR *d;

	if (depth > IPCCTL_DEPTH_MAX)
		return;
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
			    (int)sizeof(sub) ||
		    snprintf(sublabel, sizeof(sublabel), "%s%s%s", label,
			     *label ? "/" : "",
			     de->d_name) >= (int)sizeof(sublabel))
			continue;
		/* Not ours to read (EACCES): an object all the same. */
		if (getxattr(sub, "user.ipcfs.name", NULL, 0) >= 0 ||
		    (errno != ENODATA && errno != ENOTSUP))
			ipcctl_ls_object(sub, sublabel);
		else
			ipcctl_ls_dir(sub, sublabel, depth + 1);
	}
	if (d)
		closedir(d);
}

static int ipcctl_ls(int argc, char **argv)
{
	DIR *root;

	if (argc != 2)
		return ipcctl_usage(stderr);
	root = opendir(argv[1]);
	if (!root) {
		fprintf(stderr, "ipcctl: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	closedir(root);
	ipcctl_ls_dir(argv[1], "", 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return ipcctl_usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return ipcctl_usage(stdout);
	if (strcmp(argv[1], "--version") == 0) {
		printf("ipcctl version %s\n", IPCFS_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "send") == 0)
		return ipcctl_send(argc - 1, argv + 1);
	if (strcmp(argv[1], "recv") == 0)
		return ipcctl_recv(argc - 1, argv + 1);
	if (strcmp(argv[1], "ls") == 0)
		return ipcctl_ls(argc - 1, argv + 1);
	fprintf(stderr, "ipcctl: unknown command '%s'\n", argv[1]);
	return ipcctl_usage(stderr);
}
