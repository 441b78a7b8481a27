"""Word tables the normalizer and scorer use: legal forms, titles, and how much a name part is worth.

Weights say how much a part identifies someone: a rare part is worth 1.0, a very common surname or a generic
organization word much less, so that sharing "Wang" or "Public Security Bureau" alone never makes a match.
The index also lowers the weight of parts that are frequent in the loaded list (see index.py).
"""

from __future__ import annotations

# Legal forms, English and other languages, written as token sequences after normalization (lower case ASCII,
# punctuation removed). Longest first when stripping.
LEGAL_FORMS: list[tuple[str, ...]] = [tuple(form.split()) for form in sorted({
    "co ltd", "co limited", "company limited", "company ltd", "limited company", "limited liability company",
    "limited liability partnership", "public limited company", "private limited", "pvt ltd", "pte ltd",
    "pty ltd", "sdn bhd", "co inc", "and company", "and co", "corp", "corporation", "incorporated", "inc",
    "company", "co", "ltd", "limited", "llc", "l l c", "llp", "lp", "plc", "gmbh", "gmbh co kg", "kg", "ag",
    "se", "sa", "s a", "sas", "s a s", "sarl", "sa de cv", "s a de c v", "s de rl de cv", "s de r l de c v",
    "srl", "s r l", "spa", "s p a", "bv", "b v", "nv", "n v", "oy", "ab", "as", "a s", "aps", "asa",
    "kk", "kabushiki kaisha", "jsc", "ojsc", "cjsc", "pjsc", "ooo", "zao", "oao", "pao", "fzco", "fze", "fzc",
    "wll", "w l l", "est", "establishment", "holding co", "sociedad anonima", "societe anonyme",
    "aktiengesellschaft", "tbk", "pt", "cv", "bhd", "berhad", "lda", "ltda", "eirl", "sociedad limitada",
    "youxian gongsi", "gufen youxian gongsi", "youxian zeren gongsi", "gongsi",
}, key=lambda f: (-len(f.split()), f))]

# Chinese legal forms, stripped from the end of a name written in Han characters (simplified after conversion).
CJK_LEGAL_FORMS: list[str] = sorted(
    ["股份有限公司", "有限责任公司", "有限公司", "集团有限公司", "集团股份有限公司", "公司", "株式会社", "有限会社"],
    key=len, reverse=True)

HONORIFICS: set[str] = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady", "hon",
    "honorable", "honourable", "rev", "reverend", "sheikh", "shaikh", "sheik", "haji", "hajji", "imam", "mullah",
    "general", "gen", "colonel", "col", "major", "maj", "captain", "capt", "lt", "lieutenant", "admiral",
    "president", "minister", "senator", "ambassador", "governor", "comrade", "herr", "frau", "monsieur",
    "madame", "mme", "senor", "senora", "don", "dona", "jr", "sr", "ii", "iii", "phd", "md", "esq",
}

# Words that carry no identity on their own.
STOPWORDS: set[str] = {"of", "the", "and", "for", "de", "del", "della", "des", "du", "la", "le", "el", "y", "et",
                       "und", "a", "an", "in", "on", "at", "to", "&"}

# Very common surnames and given-name parts (Chinese, Korean, Arabic, Russian, Western...).
COMMON_NAME_PARTS: dict[str, float] = {}
for _w in ("wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng liang "
           "xie song tang han feng deng cao peng zeng xiao tian dong yuan pan yu jiang cai du ye cheng wei su lu "
           "ding ren shen yao jin kim lee park choi jung kang cho yoon jang lim nguyen tran le pham").split():
    COMMON_NAME_PARTS[_w] = 0.35
for _w in ("muhammad mohammad mohammed mohamed mohamad muhammed ahmad ahmed ali hassan hasan hussein husain "
           "hussain abdul abd abdel abu bin ibn al el abdullah abdallah omar umar ibrahim khan mahmoud mahmud "
           "said saeed yusuf yousef youssef khalid khaled").split():
    COMMON_NAME_PARTS[_w] = 0.4
for _w in ("ivanov ivan smirnov kuznetsov popov petrov vladimir sergey sergei alexander aleksandr andrey "
           "dmitry dmitri john james robert michael william david richard joseph thomas charles maria mary "
           "jose juan carlos luis smith johnson brown jones garcia miller davis rodriguez martinez lopez "
           "gonzalez hernandez wilson anderson taylor moore jackson martin white harris singh kumar").split():
    COMMON_NAME_PARTS[_w] = 0.5

# Generic organization vocabulary: present in thousands of names, identifying nothing alone.
GENERIC_ORG_WORDS: dict[str, float] = {w: 0.25 for w in (
    "technology technologies tech digital electronics electronic electric public security bureau department "
    "ministry office agency authority administration committee council commission service services group "
    "holding holdings international global trading trade import export industrial industries industry "
    "manufacturing development investment investments finance financial bank banking capital partners "
    "enterprise enterprises national general state central regional provincial municipal city people peoples "
    "science scientific research institute university school center centre association foundation "
    "organization organisation network systems system solutions resources energy oil gas petroleum "
    "shipping logistics transport construction engineering consulting management company corps "
    "autonomous region province county district branch unit division force forces army police "
    "new first united american china chinese russian iranian world").split()}

# Place words: they narrow a name (Xinjiang vs Beijing) but identify less than a distinctive name part.
PLACE_WORDS: dict[str, float] = {w: 0.6 for w in (
    "xinjiang beijing shanghai tianjin chongqing guangdong guangzhou shenzhen zhejiang hangzhou jiangsu "
    "nanjing shandong henan hubei hunan hebei shanxi shaanxi sichuan yunnan guizhou fujian xiamen anhui "
    "jiangxi liaoning jilin heilongjiang gansu qinghai ningxia tibet xizang guangxi hainan hong kong macau "
    "taiwan urumqi uygur uyghur uighur xuar tehran moscow dubai damascus pyongyang caracas havana kabul "
    "baghdad beirut iran syria russia korea venezuela cuba iraq lebanon yemen libya sudan").split()}


def base_weight(token: str) -> float:
    """How much a name part identifies, before the list's own frequencies are taken into account."""
    if token in STOPWORDS:
        return 0.0
    for table in (COMMON_NAME_PARTS, GENERIC_ORG_WORDS, PLACE_WORDS):
        if token in table:
            return table[token]
    if token.isdigit():
        return 0.8
    if len(token) <= 2:
        return 0.5
    return 1.0
