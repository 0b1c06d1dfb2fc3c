"""`{% per_language %}...{% endper_language %}`: a part of a page that depends on nothing but the
language, rendered once per language and process, then reused.

Constant text still costs its template nodes at every request: a translation looked up, a URL
reversed, each node rendered and escaped. Only text, `{% translate %}` of a constant,
`{% url %}` without arguments and `{% static %}` of a constant may stand inside; anything else
(a variable, a condition, a CSRF token) is refused when the template is compiled, so nothing
of one request can be kept for another. Kept per language and URL prefix, in the compiled
template (the cached loader keeps it for the process; with DEBUG each request compiles anew).
"""

from django import template
from django.template.base import Node, NodeList, TextNode, Variable
from django.template.defaulttags import CommentNode, LoadNode, URLNode
from django.templatetags.i18n import TranslateNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()


def _constant(expression) -> bool:
    """A FilterExpression of a quoted string, without filters."""
    if expression is None or expression.filters:
        return False
    value = expression.var
    return isinstance(value, str) or (isinstance(value, Variable) and value.literal is not None)


def _allowed(node: Node) -> bool:
    if isinstance(node, TextNode | CommentNode | LoadNode):
        return True
    if isinstance(node, TranslateNode):
        return (
            _constant(node.filter_expression)
            and node.asvar is None
            and (node.message_context is None or _constant(node.message_context))
        )
    if isinstance(node, URLNode):
        return _constant(node.view_name) and not node.args and not node.kwargs and not node.asvar
    if isinstance(node, StaticNode):
        return _constant(node.path) and node.varname is None
    return False


class PerLanguageNode(Node):
    child_nodelists = ("nodelist",)

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist
        self.rendered: dict[tuple[str, str], SafeString] = {}

    def render(self, context) -> SafeString:
        key = (get_language() or "", get_script_prefix())
        found = self.rendered.get(key)
        if found is None:
            found = self.rendered[key] = mark_safe(self.nodelist.render(context))  # noqa: S308
        return found


@register.tag
def per_language(parser, token) -> PerLanguageNode:
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("per_language takes no argument")
    nodelist = parser.parse(("endper_language",))
    parser.delete_first_token()
    for node in nodelist:
        if not _allowed(node):
            raise template.TemplateSyntaxError(
                "per_language holds only text, {% translate %} of a constant, {% url %} "
                f"without arguments and {{% static %}} of a constant, not {node!r}"
            )
    return PerLanguageNode(nodelist)
