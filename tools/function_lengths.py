#!/usr/bin/env python3
"""Lists functions longer than a limit in the tracked C++ sources (tests excluded unless
--tests), longest first: `python3 tools/function_lengths.py [--limit 80] [--tests]`.

A brace counter over the text with comments and string literals blanked out: a `{` opened at
namespace or class level after a `(...)` starts a function body; its length is counted from
the line of that brace to the line of its `}` (comment lines inside included). Lambdas and
blocks inside a function count toward it. Good enough to keep functions short; not a parser.
"""
import re
import subprocess
import sys


def strip(src):
    src = re.sub(r'//[^\n]*', '', src)
    src = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), src, flags=re.S)
    src = re.sub(r'R"\((.*?)\)"', lambda m: '""' + '\n' * m.group(0).count('\n'), src, flags=re.S)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    return re.sub(r"'(\\.|[^'\\\n])*'", "''", src)


def long_functions(path, limit):
    found, stack, statement, line = [], [], '', 1
    for ch in strip(open(path, encoding='utf-8').read()):
        if ch == '\n':
            line += 1
        if ch == '{':
            kind, text = 'other', statement.strip()
            if not any(entry[0] == 'fn' for entry in stack):
                if re.search(r'\bnamespace\b', text) or text.startswith('extern'):
                    kind = 'namespace'
                elif re.search(r'\b(class|struct|union|enum)\b[^()]*$', text):
                    kind = 'class'
                elif '(' in text and not re.search(r'=\s*$', text):
                    kind = 'fn'
            stack.append((kind, line, ' '.join(text.split())[-70:]))
            statement = ''
        elif ch == '}':
            if stack:
                kind, first, text = stack.pop()
                if kind == 'fn' and line - first + 1 > limit:
                    found.append((line - first + 1, path, first, text))
            statement = ''
        elif ch == ';':
            statement = ''
        else:
            statement += ch
    return found


def main():
    limit = int(sys.argv[sys.argv.index('--limit') + 1]) if '--limit' in sys.argv else 80
    files = subprocess.check_output(['git', 'ls-files', '*.cc', '*.h'], text=True).split()
    if '--tests' not in sys.argv:
        files = [f for f in files if not f.startswith('tests/')]
    rows = sorted((r for f in files for r in long_functions(f, limit)), reverse=True)
    for length, path, first, text in rows:
        print(f'{length:4d} {path}:{first}  {text}')
    print(f'{len(rows)} function(s) over {limit} lines in {len(files)} files')


if __name__ == '__main__':
    main()
