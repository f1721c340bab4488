#!/usr/bin/python3
"""Reference answers from the real oslo.policy and Glance rules.

Used by oslo_test.go to compare Glint's policy engine with oslo.policy as
installed by Debian's glance-api 25.1. Reads one JSON request on stdin and
writes one JSON answer on stdout. Exits 3 when oslo.policy or Glance is not
importable, so that the Go test can skip.
"""

import json
import logging
import sys
import textwrap
import warnings

warnings.simplefilter('ignore')

try:
    from oslo_config import cfg
    from oslo_context import context as oslo_context
    from oslo_policy import _parser
    from oslo_policy import generator
    from oslo_policy import policy
    from glance import policies as glance_policies
except Exception as exc:  # pragma: no cover - environment dependent
    print('oslo.policy or glance not importable: %s' % exc, file=sys.stderr)
    sys.exit(3)


class _Forbidden(Exception):
    pass


class _ErrorCounter(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.count += 1


def parse(req):
    counter = _ErrorCounter()
    log = logging.getLogger('oslo_policy')
    log.addHandler(counter)
    log.propagate = False
    out = []
    for rule in req['rules']:
        counter.count = 0
        try:
            check = _parser.parse_rule(rule)
        except Exception as exc:
            out.append({'ok': False, 'str': 'exception: %s' % type(exc).__name__})
            continue
        ok = counter.count == 0 and isinstance(check, policy._checks.BaseCheck)
        out.append({'ok': ok, 'str': str(check)})
    return out


def _enforcer(cfgkey, cache):
    if cfgkey in cache:
        return cache[cfgkey]
    new_defaults, scope, policy_file, policy_dirs = cfgkey
    conf = cfg.ConfigOpts()
    conf([], project='glint-test', default_config_files=[],
         default_config_dirs=[])
    enf = policy.Enforcer(conf, policy_file=policy_file or '/nonexistent/policy.yaml',
                          use_conf=True, overwrite=False)
    conf.set_override('enforce_new_defaults', new_defaults, 'oslo_policy')
    conf.set_override('enforce_scope', scope, 'oslo_policy')
    conf.set_override('policy_dirs', list(policy_dirs), 'oslo_policy')
    enf.suppress_default_change_warnings = True
    enf.suppress_deprecation_warnings = True
    enf.register_defaults(glance_policies.list_rules())
    enf.load_rules()
    cache[cfgkey] = enf
    return enf


def enforce(req):
    """Mirror glance.api.policy.Enforcer.enforce."""
    cache = {}
    out = []
    for case in req['cases']:
        key = (case.get('new_defaults', False), case.get('scope', False),
               case.get('policy_file'), tuple(case.get('policy_dirs') or ()))
        enf = _enforcer(key, cache)
        c = case.get('creds')
        if c is None:
            # A ready-made credentials dict, as to_policy_values returns.
            ctx = case['creds_dict']
        else:
            ctx = oslo_context.RequestContext(
                user_id=c.get('user_id'), project_id=c.get('project_id'),
                domain_id=c.get('domain_id'),
                system_scope=c.get('system_scope'),
                roles=c.get('roles') or [])
        rule = case['rule']
        if case.get('expr') is not None:
            # Evaluate an ad-hoc expression, as Glance's property
            # protections do with unregistered rules.
            enf.rules['__glint_expr__'] = _parser.parse_rule(case['expr'])
            rule = '__glint_expr__'
        elif rule not in enf.registered_rules:
            out.append('unregistered')
            continue
        try:
            enf.enforce(rule, case['target'], ctx, do_raise=True,
                        exc=_Forbidden)
            out.append(True)
        except (_Forbidden, policy.InvalidScope):
            out.append(False)
        except RecursionError:
            out.append('recursion')
        except Exception as exc:
            out.append('exception: %s' % type(exc).__name__)
    return out


def wrap(req):
    return [textwrap.wrap(t, 70, initial_indent='# ', subsequent_indent='# ')
            for t in req['texts']]


def helptext(req):
    return [generator._format_help_text(t) for t in req['texts']]


def sample(req):
    rules = list(glance_policies.list_rules())
    return ''.join(generator._sort_and_format_by_section(
        {'glance': rules}, exclude_deprecated=req.get('exclude_deprecated', False)))


def main():
    req = json.load(sys.stdin)
    handler = {'parse': parse, 'enforce': enforce, 'wrap': wrap,
               'helptext': helptext, 'sample': sample}[req['mode']]
    json.dump(handler(req), sys.stdout)


if __name__ == '__main__':
    main()
