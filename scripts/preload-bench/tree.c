/* An n-body-like workload (the kind of barnes, Barnes-Hut with a tree rebuilt each step): every
 * step inserts 8,000 bodies into a fresh quadtree (a malloc'd 96-byte node per split, plus a
 * 40-byte leaf record per body and a small malloc'd interaction list per body of 16 to 256
 * bytes), walks the tree to move the bodies, and frees the whole tree: one thread allocating
 * tens of thousands of small objects of a few sizes and freeing them all at once, over and
 * over, with the program's own work in between.
 *
 * Usage: tree [seconds=2 | rROUNDS] */
#include <stdlib.h>
#include <string.h>
#include "report.h"

#define BODIES 8000

struct body {
    double x, y, vx, vy, m;
};
struct leaf { /* 40 bytes */
    struct body *b;
    double x, y, m;
    struct leaf *next;
};
struct node { /* 96 bytes */
    struct node *kid[4];
    struct leaf *leaves;
    double cx, cy, half, mass, mx, my;
    int count;
};

static double ops;

static struct node *node_new(double cx, double cy, double half) {
    struct node *n = malloc(sizeof *n);
    if (!n) abort();
    memset(n, 0, sizeof *n);
    n->cx = cx, n->cy = cy, n->half = half;
    ops++;
    return n;
}

static void insert(struct node *n, struct body *b, int depth) {
    n->mass += b->m, n->mx += b->m * b->x, n->my += b->m * b->y;
    n->count++;
    if (n->count <= 4 || depth > 24) { /* a bucket of up to 4 bodies */
        struct leaf *l = malloc(sizeof *l);
        if (!l) abort();
        *l = (struct leaf){b, b->x, b->y, b->m, n->leaves};
        n->leaves = l;
        ops++;
        return;
    }
    if (n->leaves) { /* split: push the bucket down */
        struct leaf *l = n->leaves;
        n->leaves = NULL;
        n->count = 5;
        while (l) {
            struct leaf *next = l->next;
            int q = (l->x >= n->cx) + 2 * (l->y >= n->cy);
            double h = n->half / 2;
            if (!n->kid[q]) n->kid[q] = node_new(n->cx + (q & 1 ? h : -h), n->cy + (q & 2 ? h : -h), h);
            insert(n->kid[q], l->b, depth + 1);
            free(l);
            l = next;
        }
    }
    int q = (b->x >= n->cx) + 2 * (b->y >= n->cy);
    double h = n->half / 2;
    if (!n->kid[q]) n->kid[q] = node_new(n->cx + (q & 1 ? h : -h), n->cy + (q & 2 ? h : -h), h);
    insert(n->kid[q], b, depth + 1);
}

/* The force on b, approximating far cells by their centre of mass; records the cells used in a
 * malloc'd list (freed by the caller). */
static void force(const struct node *n, const struct body *b, double *fx, double *fy, double **list, int *len, int *cap) {
    if (!n || n->mass == 0) return;
    double dx = n->mx / n->mass - b->x, dy = n->my / n->mass - b->y;
    double d2 = dx * dx + dy * dy + 1e-3;
    if (n->leaves || 4 * n->half * n->half < 0.25 * d2) {
        *fx += n->mass * dx / d2, *fy += n->mass * dy / d2;
        if (*len == *cap) {
            *cap *= 2;
            *list = realloc(*list, (size_t)*cap * sizeof **list);
            if (!*list) abort();
        }
        (*list)[(*len)++] = d2;
        return;
    }
    for (int q = 0; q < 4; q++) force(n->kid[q], b, fx, fy, list, len, cap);
}

static void tree_free(struct node *n) {
    if (!n) return;
    for (int q = 0; q < 4; q++) tree_free(n->kid[q]);
    for (struct leaf *l = n->leaves, *next; l; l = next) next = l->next, free(l);
    free(n);
}

int main(int argc, char **argv) {
    struct body *bodies = malloc(BODIES * sizeof *bodies);
    uint64_t x = 0x853c49e6748fea9bull;
    for (int i = 0; i < BODIES; i++) {
        bodies[i].x = (double)(next_random(&x) % 1000000) / 1e6;
        bodies[i].y = (double)(next_random(&x) % 1000000) / 1e6;
        bodies[i].vx = bodies[i].vy = 0;
        bodies[i].m = 1 + (double)(next_random(&x) % 100) / 100;
    }
    double energy = 0;
    struct run r = run_start(argc > 1 ? argv[1] : NULL);
    do {
        struct node *root = node_new(0.5, 0.5, 0.5);
        for (int i = 0; i < BODIES; i++) insert(root, &bodies[i], 0);
        for (int i = 0; i < BODIES; i += 4) { /* a quarter of the bodies per step */
            int cap = 2 + (int)(next_random(&x) % 31), len = 0;
            double *list = malloc((size_t)cap * sizeof *list), fx = 0, fy = 0;
            if (!list) abort();
            ops++;
            force(root, &bodies[i], &fx, &fy, &list, &len, &cap);
            struct body *b = &bodies[i];
            b->vx += fx * 1e-9, b->vy += fy * 1e-9;
            b->x += b->vx, b->y += b->vy;
            if (b->x < 0 || b->x >= 1) b->x = 0.5, b->vx = 0;
            if (b->y < 0 || b->y >= 1) b->y = 0.5, b->vy = 0;
            energy += len;
            free(list);
        }
        tree_free(root);
    } while (!run_over(&r));
    run_report("tree", &r, ops, "1 thread");
    free(bodies);
    return energy < 0;
}
