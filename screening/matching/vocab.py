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
    "joint stock company", "public joint stock company", "open joint stock company", "closed joint stock company",
    "joint stock commercial bank", "ou", "aktsionernoe obshchestvo", "obshchestvo s ogranichennoi otvetstvennostiu",
    "obshchestvo s ogranichennoy otvetstvennostyu", "sp z o o", "sp zoo", "spolka z ograniczona odpowiedzialnoscia",
    "as", "a s", "sro", "s r o", "kft", "zrt", "doo", "d o o", "ad", "company limited by shares",
    "limited partnership", "general partnership",
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
           "gonzalez hernandez wilson anderson taylor moore jackson martin white harris singh kumar "
           "gomez perez sanchez ramirez torres flores diaz rivera morales ortiz cruz reyes gutierrez ruiz "
           "alvarez castillo jimenez moreno romero herrera medina aguilar vargas castro mendoza silva "
           "van von der den de la bin binti ibn bint thi duc "
           "santos oliveira souza ferreira pereira costa rodrigues almeida nunes").split():
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
    "new first united world airline airlines airways aviation air space aerospace defense defence concern "
    "shipping lines line marine maritime navigation tanker tankers petrochemical petrochemicals chemical "
    "chemicals mining metals steel power telecom telecommunications communications "
    "insurance exchange credit savings commercial cooperative union joint venture products supply supplies "
    "equipment machinery factory plant works academy").split()}

# Place words: they narrow a name (Xinjiang vs Beijing) but identify less than a distinctive name part.
PLACE_WORDS: dict[str, float] = {w: 0.6 for w in (
    "xinjiang beijing shanghai tianjin chongqing guangdong guangzhou shenzhen zhejiang hangzhou jiangsu "
    "nanjing shandong henan hubei hunan hebei shanxi shaanxi sichuan yunnan guizhou fujian xiamen anhui "
    "jiangxi liaoning jilin heilongjiang gansu qinghai ningxia tibet xizang guangxi hainan hong kong macau "
    "taiwan urumqi uygur uyghur uighur xuar tehran moscow dubai damascus pyongyang caracas havana kabul "
    "baghdad beirut iran syria russia korea venezuela cuba iraq lebanon yemen libya sudan china america europe "
    "asia africa middle east west north south dprk ussr "
    "american chinese russian iranian syrian korean venezuelan cuban iraqi lebanese yemeni libyan sudanese "
    "european asian african arab arabian islamic persian turkish emirates").split()}


def base_weight(token: str) -> float:
    """How much a name part identifies, before the list's own frequencies are taken into account."""
    if token in STOPWORDS:
        return 0.0
    if token in HONORIFICS:
        return 0.15
    for table in (COMMON_NAME_PARTS, GENERIC_ORG_WORDS, PLACE_WORDS):
        if token in table:
            return table[token]
    if token.isdigit():
        return 1.0  # a number in a name is distinctive (Nord Stream 2, Unit 26165)
    if len(token) <= 2:
        return 0.5
    return 1.0


# Korean family names: the Revised Romanization the romanizer gives (Gim, I, Bak) is rarely how the names are written
# in passports and lists (Kim, Lee, Park). No package in our registries carries this table; these are the
# conventional spellings of the most common surnames, North Korean forms (Ri, Rim) included.
KOREAN_SURNAMES: dict[str, tuple[str, ...]] = {
    "김": ("kim",), "이": ("lee", "yi", "rhee", "ri"), "리": ("ri", "lee"), "박": ("park", "pak"), "최": ("choi", "choe"),
    "정": ("jung", "chung", "jeong"), "강": ("kang",), "조": ("cho", "jo"), "윤": ("yoon", "yun"),
    "장": ("jang", "chang"), "임": ("lim", "im", "rim"), "림": ("rim", "lim"), "한": ("han",), "오": ("oh", "o"),
    "서": ("seo", "suh"), "신": ("shin", "sin"), "권": ("kwon",), "황": ("hwang",), "안": ("ahn", "an"),
    "송": ("song",), "류": ("ryu", "yoo", "yu"), "유": ("yoo", "yu"), "홍": ("hong",), "전": ("jeon", "jun", "chun"),
    "고": ("ko", "go"), "문": ("moon", "mun"), "손": ("son", "sohn"), "양": ("yang",), "배": ("bae",),
    "백": ("baek", "paik", "paek"), "허": ("heo", "huh", "hur"), "남": ("nam",), "노": ("noh", "roh", "no"),
    "로": ("ro", "roh"), "하": ("ha",), "곽": ("kwak",), "성": ("sung", "seong"), "차": ("cha",),
    "주": ("joo", "ju", "chu"), "우": ("woo", "u"), "구": ("koo", "ku", "gu"), "민": ("min",), "나": ("na", "ra"),
    "진": ("jin", "chin"), "지": ("ji", "chi"), "엄": ("eom", "um"), "채": ("chae",), "원": ("won",),
    "천": ("cheon", "chun"), "방": ("bang",), "공": ("kong", "gong"), "현": ("hyun", "hyeon"), "함": ("ham",),
    "변": ("byun", "byeon"), "염": ("yeom", "yum"), "여": ("yeo", "yuh"), "추": ("choo", "chu"), "도": ("do", "doh"),
    "석": ("seok", "suk"), "설": ("seol", "sul"), "길": ("kil", "gil"), "연": ("yeon", "yun"), "표": ("pyo",),
    "명": ("myung", "myeong"), "기": ("ki", "gi"), "반": ("ban",), "왕": ("wang",), "금": ("keum", "geum"),
    "옥": ("ok",), "육": ("yook", "yuk"), "인": ("in",), "탁": ("tak",), "국": ("kook", "guk"),
}
