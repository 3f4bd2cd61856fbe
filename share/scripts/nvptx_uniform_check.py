#!/usr/bin/env python3
# Checks, without a GPU, that no barrier (llvm.nvvm.barrier0) and no full-warp shuffle
# (shfl.sync) of the cuda target's LLVM IR sits where only some threads of a CTA get: thread-
# dependent values are traced from %tid.x through every instruction that uses them, and for each
# branch on one, the blocks before its post-dominator (the join) must hold neither. A barrier or
# shuffle there hangs or reads garbage on the card. Input: the .ll files share/scripts/
# nvptx_dump_ir.lua writes. Exits 1 when one is found. Part of share/scripts (share/doc/
# lowering.md, "Memory-bound kernels"). Usage: nvptx_uniform_check.py FILE.ll...
import re
import sys

NAME = r'%[\w.\-]+'


def functions(text):
    fns, cur, bb = [], None, None
    for line in text.splitlines():
        if line.startswith('define '):
            cur, bb = {'blocks': {'entry': []}, 'order': ['entry']}, 'entry'
            fns.append(cur)
        elif cur is not None and line.startswith('}'):
            cur = None
        elif cur is not None:
            m = re.match(r'^([\w.\-]+):', line)
            if m:
                bb = m.group(1)
                cur['blocks'][bb] = []
                cur['order'].append(bb)
            elif line.strip():
                cur['blocks'][bb].append(line.strip())
    return fns


def thread_dependent(fn):
    uses = {}
    for ins in fn['blocks'].values():
        for i in ins:
            m = re.match(r'^(' + NAME + r') = (.*)$', i)
            if m:
                for u in set(re.findall(NAME, m.group(2))):
                    uses.setdefault(u, []).append(m.group(1))
    seeds = [re.match(r'^(' + NAME + ')', i).group(1) for ins in fn['blocks'].values()
             for i in ins if re.match(r'^' + NAME + ' = .*(sreg\.tid|shfl\.sync)', i)]
    dep, work = set(seeds), list(seeds)
    while work:
        for u in uses.get(work.pop(), []):
            if u not in dep:
                dep.add(u)
                work.append(u)
    return dep


def post_dominators(order, succ):
    index = {b: k for k, b in enumerate(order)}
    exits = [b for b in order if not succ[b]]
    pdom = {b: None for b in order}  # immediate post-dominator, Cooper-Harvey-Kennedy on the reverse CFG
    preds = {b: [] for b in order}   # predecessors in the reverse CFG = successors
    rpo, seen = [], set()

    def visit(b, radj):
        stack = [(b, iter(radj[b]))]
        seen.add(b)
        while stack:
            x, it = stack[-1]
            for y in it:
                if y not in seen:
                    seen.add(y)
                    stack.append((y, iter(radj[y])))
                    break
            else:
                rpo.append(x)
                stack.pop()
    radj = {b: [] for b in order}
    for b in order:
        for s in succ[b]:
            radj[s].append(b)
    root = '<exit>'
    radj[root] = exits
    visit(root, radj)
    rpo.reverse()
    num = {b: k for k, b in enumerate(rpo)}
    idom = {root: root}
    changed = True
    while changed:
        changed = False
        for b in rpo[1:]:
            cands = [s for s in (succ[b] or [root]) if s in idom]
            if not cands:
                continue
            new = cands[0]
            for s in cands[1:]:
                a, c = new, s
                while a != c:
                    while num[a] > num[c]:
                        a = idom[a]
                    while num[c] > num[a]:
                        c = idom[c]
                new = a
            if idom.get(b) != new:
                idom[b] = new
                changed = True
    return idom


def check(fn):
    dep = thread_dependent(fn)
    succ, divergent = {}, []
    for b in fn['order']:
        term = fn['blocks'][b][-1] if fn['blocks'][b] else ''
        succ[b] = re.findall(r'label %([\w.\-]+)', term)
        m = re.match(r'(?:br i1|switch \w+) (' + NAME + ')', term)
        if m and m.group(1) in dep:
            divergent.append(b)
    idom = post_dominators(fn['order'], succ)
    bad = []
    for b in divergent:
        join = idom.get(b)
        seen, stack = set(), [s for s in succ[b] if s != join]
        while stack:
            x = stack.pop()
            if x in seen or x == join:
                continue
            seen.add(x)
            stack.extend(succ[x])
        for x in seen:
            bad += [(b, x, i[:70]) for i in fn['blocks'][x] if 'barrier' in i or 'shfl.sync' in i]
    return bad


def main(paths):
    failed = 0
    for path in paths:
        with open(path) as f:
            for fn in functions(f.read()):
                bad = check(fn)
                if bad:
                    failed += 1
                    print(f'{path}: after the thread-dependent branch in {bad[0][0]}: {bad[0][1]}: {bad[0][2]}')
    print(f'nvptx_uniform_check: {len(paths)} files, {failed} with a barrier or shuffle under a '
          'thread-dependent branch')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
